"""Cases: search, and one case's timeline of events, transitions and messages."""

from __future__ import annotations

from flask import Blueprint, abort, request

from designer.i18n import current_lang
from designer.render import page_or_partial
from engine import explain_case, queries
from mahnwerk_web.db import transaction

bp = Blueprint("cases", __name__, url_prefix="/cases")


@bp.get("")
def index() -> str:
    """Search cases by external id, reference, name or email; htmx swaps only the results."""
    text = request.args.get("q", "")
    with transaction() as session:
        found = queries.search_cases(session, text)
    return page_or_partial("cases/index.html", "cases/_results.html", cases=found, q=text)


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
    shown = {e.message.id for e in timeline if e.message is not None}
    pending = [m for m in messages if m.id not in shown]
    return page_or_partial(
        "cases/show.html",
        "cases/_timeline.html",
        case=case,
        timeline=timeline,
        pending=pending,
        why=why,
    )
