"""The journey's numbers in the designer: the canvas overlay's data and the journey dashboard.

Both read the facts the engine keeps as it runs (engine.analytics); nothing here counts.
Any signed-in user may read them (the canvas itself is open to every role).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask.wrappers import Response

from designer import charts
from designer.i18n import _, word
from engine import (
    Dashboard,
    PeriodError,
    journey_by_key,
    journey_dashboard,
    journey_numbers,
    list_versions,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("analytics", __name__, url_prefix="/journeys")
CHANNELS = ("email", "sms", "letter")
PERIOD_DAYS = 30


class BadQuery(ValueError):
    """A query parameter that cannot be read; `field` names it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field_name
        self.problem = problem


def _date(name: str, default: date) -> date:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadQuery(name, _("Enter a date as YYYY-MM-DD.")) from None


def _int(name: str, default: int) -> int:
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or len(text) > 7:
        raise BadQuery(name, _("Enter a whole number."))
    return int(text)


def period() -> tuple[date, date]:
    """The period asked for: `since` and `until` (both days included), by default 30 days."""
    until = _date("until", utcnow().date())
    return _date("since", until - timedelta(days=PERIOD_DAYS - 1)), until


def _problem(field_name: str, problem: str) -> str:
    words = {"since": _("From"), "until": _("To"), "cure_days": _("Cure window")}
    return f"{words.get(field_name, field_name)}: {problem}"


@bp.get("/<key>/numbers.json")
def numbers(key: str) -> Response | tuple[Response, int]:
    """The canvas overlay's numbers for a period (JSON): per step, per wire."""
    try:
        since, until = period()
        version = _int("version", 0) or None
        with transaction() as session:
            if journey_by_key(session, key) is None:
                abort(404)
            found = journey_numbers(session, key, since, until, version)
    except (BadQuery, PeriodError) as exc:
        return jsonify({"field": exc.field, "error": _problem(exc.field, exc.problem)}), 400
    return jsonify(found.to_json())


@bp.get("/<key>/dashboard")
def dashboard(key: str) -> str | tuple[str, int]:
    """The journey dashboard: a cohort's outcomes as charts, each with a table beside it."""
    with transaction() as session:
        journey = journey_by_key(session, key)
        if journey is None:
            abort(404)
        versions = list_versions(session, key)
        error, figures = None, None
        try:
            since, until = period()
            cure_days = _int("cure_days", 30)
            figures = journey_dashboard(session, key, since, until, cure_days)
        except (BadQuery, PeriodError) as exc:
            error = _problem(exc.field, exc.problem)
            until = utcnow().date()
            since, cure_days = until - timedelta(days=PERIOD_DAYS - 1), 30
    page = render_template(
        "journeys/dashboard.html",
        journey=journey,
        version=versions[0] if versions else None,
        since=request.args.get("since", since.isoformat()),
        until=request.args.get("until", until.isoformat()),
        cure_days=request.args.get("cure_days", str(cure_days)),
        error=error,
        d=figures,
        view=_view(figures) if figures is not None else None,
    )
    return (page, 400) if error else page


def _share(n: int | None, of: int | None) -> str:
    return "–" if not of or n is None else f"{100 * n / of:.1f} %"


def _money(minor: int, currency: str) -> str:
    return f"{Decimal(minor) / 100:,.2f} {currency}"


def _view(d: Dashboard) -> dict[str, Any]:
    """What the page shows, ready to print: key figures, charts and their tables."""
    cured = [(day, n / d.cases if d.cases else 0.0) for day, n in d.cure_curve]
    flow = [
        (f"{w['from']} → {w['to'] or '?'} ({w['port']})", w["cases"]) for w in d.flow if w["cases"]
    ]
    per_case = {c: (f"{d.messages.get(c, 0) / d.cases:.2f}" if d.cases else "–") for c in CHANNELS}
    cost_per_case = f"{(d.cost_total / d.cases).quantize(Decimal('0.0001'))}" if d.cases else "–"
    return {
        "recovery": [
            (
                m.currency,
                _money(m.original_minor, m.currency),
                _money(m.collected_minor, m.currency),
                _share(m.collected_minor, m.original_minor),
            )
            for m in d.money
        ],
        "paid_full": _share(d.paid_full, d.cases),
        "paid_part": _share(d.paid_part, d.cases),
        "cure_rate": _share(d.cured, d.cases),
        "median_days": "–" if d.median_days_to_pay is None else str(d.median_days_to_pay),
        "messages_per_case": per_case,
        "cost_per_case": cost_per_case,
        "cure_points": cured,
        "cure_chart": charts.curve(cured, _("Share paid in full by days since entering"), _("day")),
        "days_chart": charts.columns(
            d.days_to_pay, _("Cases paid in full by days after the due date"), _("day")
        ),
        "messages_chart": charts.horizontal_bars(
            {c: d.messages.get(c, 0) for c in CHANNELS},
            _("Messages by channel"),
            {c: word(c) for c in CHANNELS},
        ),
        "flow": flow,
        "flow_chart": charts.horizontal_bars(dict(flow), _("Flow between steps"), {}),
        "guardrails": [
            (_("Disputes"), d.guardrails.get("disputes", 0)),
            (_("Opt-outs"), d.guardrails.get("opt_outs", 0)),
            (_("Complaints (asked for no contact)"), d.guardrails.get("complaints", 0)),
            (_("Bounces"), d.guardrails.get("bounces", 0)),
        ],
    }
