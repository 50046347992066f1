"""Cases: a paged, filtered and sorted list, and one case's timeline of events and messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, abort, request
from flask_babel import format_date, format_decimal

from designer import case_actions, htmx
from designer.i18n import _, current_lang, money
from designer.render import page_or_partial
from engine import STATUSES, case_owed, event_types, explain_case, queries, utcnow
from mahnwerk_web.db import transaction

bp = Blueprint("cases", __name__, url_prefix="/cases")

FIELDS = (
    "q",
    "journey",
    "step",
    "status",
    "hold",
    "country",
    "amount_min",
    "amount_max",
    "due_from",
    "due_to",
    "sort",
    "page",
)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_MAX_AMOUNT = Decimal("1000000000000")
_MAX_PAGE = 1_000_000


@dataclass
class _Parsed:
    """The case list's query from the URL, and the fields the user got wrong."""

    query: queries.CaseListQuery
    errors: dict[str, str] = field(default_factory=dict)


def _labels() -> dict[str, str]:
    """Each field's label, as the form shows it, to name it in an error."""
    return {
        "q": _("Search"),
        "journey": _("Journey"),
        "step": _("Step"),
        "status": _("Status"),
        "hold": _("On hold"),
        "country": _("Country"),
        "amount_min": _("Amount from"),
        "amount_max": _("Amount to"),
        "due_from": _("Due from"),
        "due_to": _("Due to"),
        "sort": _("Sort"),
        "page": _("Page"),
    }


def _amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(_("Enter an amount such as 120.50.")) from exc
    if not value.is_finite() or value < 0 or value >= _MAX_AMOUNT:
        raise ValueError(_("Enter an amount such as 120.50."))
    return value


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise ValueError(_("Enter a date as YYYY-MM-DD.")) from exc


def parse_query(args: dict[str, str], journeys: set[str]) -> _Parsed:
    """The list's query from URL arguments; each bad one named in `errors`, never an exception."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    raw = {name: (args.get(name) or "").strip() for name in FIELDS}
    values["text"] = raw["q"][:200]
    if raw["journey"]:
        if raw["journey"] in journeys:
            values["journey"] = raw["journey"]
        else:
            errors["journey"] = _("No journey has this key.")
    if raw["step"]:
        if len(raw["step"]) <= 64:
            values["step"] = raw["step"]
        else:
            errors["step"] = _("A step id has at most 64 characters.")
    if raw["status"]:
        if raw["status"] in STATUSES:
            values["status"] = raw["status"]
        else:
            errors["status"] = _("Choose one of the listed statuses.")
    if raw["hold"]:
        if raw["hold"] in ("yes", "no"):
            values["hold"] = raw["hold"] == "yes"
        else:
            errors["hold"] = _("Choose yes or no.")
    if raw["country"]:
        if _COUNTRY.match(raw["country"]):
            values["country"] = raw["country"].upper()
        else:
            errors["country"] = _("Enter a two-letter country code such as DE.")
    for name in ("amount_min", "amount_max"):
        if raw[name]:
            try:
                values[name] = _amount(raw[name])
            except ValueError as exc:
                errors[name] = str(exc)
    for name in ("due_from", "due_to"):
        if raw[name]:
            try:
                values[name] = _date(raw[name])
            except ValueError as exc:
                errors[name] = str(exc)
    low, high = values.get("amount_min"), values.get("amount_max")
    if low is not None and high is not None and low > high:
        errors["amount_max"] = _("Must not be less than the amount from.")
    start, end = values.get("due_from"), values.get("due_to")
    if start is not None and end is not None and start > end:
        errors["due_to"] = _("Must not be before the due from date.")
    if raw["sort"]:
        key = raw["sort"].removeprefix("-")
        if key in queries.CASE_SORTS:
            values["sort"], values["descending"] = key, raw["sort"].startswith("-")
        else:
            errors["sort"] = _("Sort by due date, amount, step or status.")
    if raw["page"]:
        if raw["page"].isdigit() and 1 <= int(raw["page"]) <= _MAX_PAGE:
            values["page"] = int(raw["page"])
        else:
            errors["page"] = _("Enter a page number from 1.")
    return _Parsed(queries.CaseListQuery(**values), errors)


@bp.get("")
def index() -> tuple[str, int]:
    """The case list: search, filters, sort and pages; htmx swaps only the results.

    Every control is a URL argument, so a filtered page is a link to share. A bad argument is
    named in the answer (400 for a page; an htmx swap gets 200, as htmx swaps only successes).
    """
    args = {name: request.args.get(name, "") for name in FIELDS}
    with transaction() as session:
        journeys = queries.journey_names(session)
        parsed = parse_query(args, {key for key, _name in journeys})
        steps: list[tuple[str, str]] = []
        if parsed.query.journey:
            newest = queries.get_version(session, parsed.query.journey)
            if newest is not None:
                steps = sorted(queries.step_labels(newest.document).items())
        found = None if parsed.errors else queries.list_case_page(session, parsed.query)
    labels = _labels()
    errors = [(name, labels[name], message) for name, message in parsed.errors.items()]
    shared = {k: v for k, v in args.items() if v and k != "page"}
    body = page_or_partial(
        "cases/index.html",
        "cases/_results.html",
        found=found,
        errors=errors,
        error_fields=set(parsed.errors),
        args=args,
        shared=shared,
        journeys=journeys,
        steps=steps,
        statuses=STATUSES,
        money=money,
        number=format_decimal,
        day=format_date,
        oob=bool(htmx and not htmx.boosted),
        q=args["q"],
    )
    status = 400 if parsed.errors and not htmx else 200
    return body, status


@bp.get("/<int:case_id>")
def show(case_id: int) -> str:
    """A case: its data and its timeline, each message with what the debtor received.

    Each step carries its explanation ("why"): the rule and the values it saw, the contact
    policy's decision, the template variant, in the reader's language (engine.ops.explain).
    """
    with transaction() as session:
        case = queries.get_case(session, case_id)
        if case is None:
            abort(404)
        timeline = queries.case_timeline(session, case_id)
        messages = queries.case_messages(session, case_id)
        why = {step.id: step for step in explain_case(session, case_id, current_lang())}
        owed = case_owed(session, case_id, utcnow(), current_lang())  # fees and interest too
    shown = {e.message.id for e in timeline if e.message is not None}
    pending = [m for m in messages if m.id not in shown]
    lang = current_lang()
    return page_or_partial(
        "cases/show.html",
        "cases/_timeline.html",
        case=case,
        timeline=timeline,
        pending=pending,
        why=why,
        staff=case_actions.context(case.case),
        method_words=case_actions.method_words(),
        dispute_words=case_actions.dispute_words(),
        close_words=case_actions.close_words(),
        hold_words=case_actions.hold_words(),
        owed=owed,
        event_name=lambda event: event_types.event_name(str(event or "")).text(lang),
    )
