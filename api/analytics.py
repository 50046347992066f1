"""The journey's numbers: per step and wire for the canvas, and the dashboard's figures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_smorest import abort

from api import analytics_schemas as schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.clock import now
from engine import PeriodError, journey_by_key, journey_dashboard, journey_numbers
from mahnwerk_web.db import transaction

blp = Blueprint(
    "api_analytics", __name__, description="The journey's numbers, kept by the engine as it runs."
)
blp.before_request(check_request)


def _period(data: dict[str, Any]) -> tuple[date, date]:
    until = data.get("until") or now().date()
    return data.get("since") or until - timedelta(days=29), until


def _known(session: Any, key: str) -> None:
    if journey_by_key(session, key) is None:
        abort(404, message=f"There is no journey '{key}'.", kind="unknown-journey")


@blp.get("/journeys/<key>/numbers")
@blp.arguments(schemas.NumbersIn(), location="query")
@blp.response(200, schemas.NumbersOut)
def numbers(data: dict[str, Any], key: str) -> Any:
    """Per step: entered and left by port in the period, waiting now; per wire the share paid."""
    since, until = _period(data)
    with transaction() as session:
        _known(session, key)
        try:
            return journey_numbers(session, key, since, until, data.get("version")).to_json()
        except PeriodError as exc:
            abort(422, errors={exc.field: [exc.problem]})


@blp.get("/journeys/<key>/dashboard")
@blp.arguments(schemas.DashboardIn(), location="query")
@blp.response(200, schemas.DashboardOut)
def dashboard(data: dict[str, Any], key: str) -> Any:
    """Recovery and cure rates, days to pay, messages and cost per case, flow between steps."""
    since, until = _period(data)
    with transaction() as session:
        _known(session, key)
        try:
            return journey_dashboard(session, key, since, until, data["cure_days"]).to_json()
        except PeriodError as exc:
            abort(422, errors={exc.field: [exc.problem]})
