"""Journeys: list them and their versions, put a case on one, run a small simulation."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import abort

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.cases import case_out, journey_closed, load_case
from api.clock import now
from api.store import write_transaction
from engine import (
    CaseStarted,
    ExperimentOutcomes,
    JourneyClosed,
    JourneyNotFound,
    assign_journey,
    experiment_report,
    experiment_result,
    get_version,
    journey_by_key,
    list_journeys,
    list_versions,
    simulate,
)
from mahnwerk_web.db import transaction

blp = Blueprint("api_journeys", __name__, description="Journeys and their versions.")
blp.before_request(check_request)


@blp.get("/journeys")
@blp.response(200, schemas.JourneysOut)
def journeys() -> Any:
    """Every journey with its newest version and how many cases run on it."""
    with transaction() as session:
        return {"items": [s.__dict__ for s in list_journeys(session)]}


@blp.get("/journeys/<key>/versions")
@blp.response(200, schemas.VersionsOut)
def versions(key: str) -> Any:
    """The versions of a journey, newest first."""
    with transaction() as session:
        if journey_by_key(session, key) is None:
            abort(404, message=f"There is no journey '{key}'.", kind="unknown-journey")
        return {"items": list_versions(session, key)}


@blp.put("/cases/<external_id>/journey")
@blp.arguments(schemas.AssignIn())
@blp.response(200, schemas.CaseOut)
def assign(data: dict[str, Any], external_id: str) -> Any:
    """Put a case that has not started yet on the published version of a journey."""
    with write_transaction() as session:
        view = load_case(session, external_id)
        try:
            assign_journey(session, view.case, data["journey"], now())
        except JourneyNotFound as exc:
            abort(422, errors={"journey": [str(exc)]})
        except CaseStarted as exc:
            abort(409, message=str(exc), kind="case-started")
        except JourneyClosed as exc:
            journey_closed(exc)
        return case_out(load_case(session, external_id))


@blp.post("/journeys/<key>/simulations")
@blp.arguments(schemas.SimulationIn())
@blp.response(200, schemas.SimulationOut)
def simulation(data: dict[str, Any], key: str) -> Any:
    """Run a version (default: the newest) on a small synthetic portfolio; figures come back."""
    limits = {
        "cases": current_app.config["API_SIMULATION_MAX_CASES"],
        "days": current_app.config["API_SIMULATION_MAX_DAYS"],
    }
    too_big = {k: [f"At most {v} here."] for k, v in limits.items() if data[k] > v}
    if too_big:
        abort(422, errors=too_big)
    with transaction() as session:
        version = get_version(session, key, data["version"])
        if version is None:
            abort(404, message=f"There is no such version of journey '{key}'.", kind="unknown")
        document, number = version.document, version.number
    result = simulate(
        document, cases=data["cases"], days=data["days"], seed=data["seed"], consent=data["consent"]
    )
    experiments = [
        experiment_result(experiment_report(ExperimentOutcomes.from_json(e)), "simulation")
        for e in result.experiments
    ]
    return {"journey": key, "version": number, **result.to_json(), "experiments": experiments}
