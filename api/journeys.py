"""Journeys: list them and their versions, a version's compliance findings, put a case on one,
run a small simulation."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
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
    TextFinding,
    assign_journey,
    experiment_report,
    experiment_result,
    get_version,
    journey_by_key,
    journey_text_findings,
    list_journeys,
    list_versions,
    simulate,
    validate_document,
)
from mahnwerk_web.db import transaction

MAX_VERSION = 2**31 - 1  # versions.number is a 32-bit integer on PostgreSQL
LANGUAGES = ("en", "de")  # a finding's words come in each (`translations`)
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


@blp.get("/journeys/<key>/versions/<int:number>/findings")
@blp.response(200, schemas.FindingsOut)
def findings(key: str, number: int) -> Any:
    """The compliance findings of every template variant of a version, with the characters
    each wording finding marks; words in the Accept-Language (English or German)."""
    with transaction() as session:
        # A number beyond the column's range is no version (and no database error).
        version = get_version(session, key, number) if number <= MAX_VERSION else None
        if version is None:
            abort(404, message=f"There is no version {number} of journey '{key}'.", kind="unknown")
        document = version.document
    journey, problems = validate_document(document)
    lang = request.accept_languages.best_match(LANGUAGES) or "en"
    if journey is None:  # a draft saved with errors in its document's shape
        errors = {p.field or "document": [p.text(lang)] for p in problems}
        abort(422, message="The version's document has errors; fix them first.", errors=errors)
    items = [
        {
            "template": v.template,
            "channel": v.channel,
            "locale": v.locale,
            "tone": v.tone,
            "field": v.field,
            "findings": [_finding_out(f, lang) for f in v.findings],
        }
        for v in journey_text_findings(journey)
    ]
    return {"journey": key, "version": number, "items": items}


def _finding_out(f: TextFinding, lang: str) -> dict[str, Any]:
    marked = f.part is not None
    return {
        "rule": f.code,
        "severity": f.grade,
        "source": f.source or None,
        **_words(f, lang),
        "translations": {code: _words(f, code) for code in LANGUAGES},
        "field": f.part,
        "start": f.start if marked else None,
        "end": f.end if marked else None,
        "text": f.text if marked else None,
    }


def _words(f: TextFinding, lang: str) -> dict[str, str | None]:
    """The finding's message, and a wording finding's reason and suggestion, in `lang`."""
    return {
        "message": f.words.text(lang),
        "reason": f.reason.text(lang) if f.reason is not None else None,
        "suggestion": f.suggestion.text(lang) if f.suggestion is not None else None,
    }


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
