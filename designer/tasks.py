"""The task inbox: work the journeys made for people (calls, checks, approvals), by queue.

Agents, managers and admins see the open tasks per queue (filters: queue, overdue, mine), claim
one (the engine's conditional UPDATE gives a task to one person only), read the case beside it
(amount, contact data, timeline, the rendered instructions) and record an outcome with a note;
the outcome is a case event through the engine's one event intake, and the next tick moves the
case out of that outcome's port.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import format_datetime
from flask_login import current_user
from werkzeug.wrappers import Response

from designer.auth import TASK_ROLES, role_required
from designer.i18n import _, current_lang, money
from designer.render import page_or_partial
from engine import (
    TaskError,
    TaskNotFound,
    claim_task,
    event_types,
    explain_case,
    get_task,
    list_tasks,
    queries,
    record_task_outcome,
    task_queues,
    unclaim_task,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("tasks", __name__, url_prefix="/tasks")
MANAGERS = frozenset({"manager", "admin"})


def outcome_words() -> dict[str, str]:
    """Each outcome as the buttons and the list say it."""
    return {
        "done": _("Done"),
        "not_reached": _("Not reached"),
        "promise_taken": _("Promise taken"),
        "escalate": _("Escalate"),
    }


def kind_words() -> dict[str, str]:
    """Each kind of task in words."""
    return {
        "call": _("Call the debtor"),
        "check": _("Check"),
        "approve": _("Approve"),
        "other": _("Other work"),
    }


@bp.get("")
@role_required(TASK_ROLES)
def index() -> str:
    """Open tasks by due date, filtered by queue, overdue and mine; htmx swaps the list."""
    queue = (request.args.get("queue") or "").strip()[:64]
    overdue = request.args.get("overdue") == "1"
    mine = request.args.get("mine") == "1"
    now = utcnow()
    with transaction() as session:
        queues = task_queues(session)
        if queue not in queues:
            queue = ""
        rows = list_tasks(
            session,
            now,
            queue=queue or None,
            overdue=overdue,
            mine=current_user.email if mine else None,
        )
    return page_or_partial(
        "tasks/index.html",
        "tasks/_list.html",
        tasks=rows,
        queues=queues,
        queue=queue,
        overdue=overdue,
        mine=mine,
        kinds=kind_words(),
        money=money,
        when=format_datetime,
    )


@bp.get("/<int:task_id>")
@role_required(TASK_ROLES)
def show(task_id: int) -> str:
    """One task with its case beside it: amount, contact data, instructions, timeline."""
    now = utcnow()
    with transaction() as session:
        try:
            task = get_task(session, task_id, now)
        except TaskNotFound:
            abort(404)
        case = queries.get_case(session, task.case_id)
        timeline = queries.case_timeline(session, task.case_id)
        messages = queries.case_messages(session, task.case_id)
        why = {step.id: step for step in explain_case(session, task.case_id, current_lang())}
    shown = {e.message.id for e in timeline if e.message is not None}
    lang = current_lang()
    return page_or_partial(
        "tasks/show.html",
        "tasks/show.html",
        task=task,
        case=case,
        timeline=timeline,
        pending=[m for m in messages if m.id not in shown],
        why=why,
        event_name=lambda event: event_types.event_name(str(event or "")).text(lang),
        outcomes=outcome_words(),
        kinds=kind_words(),
        money=money,
        when=format_datetime,
        mine=task.claimed_by == current_user.email,
        today=date.today().isoformat(),
        can_release=current_user.role in MANAGERS,
    )


def _back(task_id: int) -> Response:
    return redirect(url_for("tasks.show", task_id=task_id))


def _refused(exc: TaskError, task_id: int) -> Response:
    if isinstance(exc, TaskNotFound):
        abort(404)
    flash(exc.words.text(current_lang()), "error")
    return _back(task_id)


@bp.post("/<int:task_id>/claim")
@role_required(TASK_ROLES)
def claim(task_id: int) -> Response:
    """Take the task; refused with words when someone else has it."""
    try:
        with transaction() as session:
            claim_task(session, task_id, current_user.email, utcnow())
    except TaskError as exc:
        return _refused(exc, task_id)
    flash(_("You have claimed task %(id)s.", id=task_id), "message")
    return _back(task_id)


@bp.post("/<int:task_id>/unclaim")
@role_required(TASK_ROLES)
def unclaim(task_id: int) -> Response:
    """Give the task back to its queue (a manager may take it back from anyone)."""
    try:
        with transaction() as session:
            unclaim_task(
                session,
                task_id,
                current_user.email,
                utcnow(),
                anyone=current_user.role in MANAGERS,
            )
    except TaskError as exc:
        return _refused(exc, task_id)
    flash(_("Task %(id)s is back in its queue.", id=task_id), "message")
    return _back(task_id)


@bp.post("/<int:task_id>/outcome")
@role_required(TASK_ROLES)
def outcome(task_id: int) -> Response:
    """Record what came of the task; the case moves on by that outcome at the next tick."""
    chosen = (request.form.get("outcome") or "")[:32]
    note = (request.form.get("note") or "")[:2000]
    promised = (request.form.get("promise_date") or "").strip()[:10] or None
    try:
        with transaction() as session:
            record_task_outcome(
                session,
                task_id,
                chosen,
                current_user.email,
                utcnow(),
                note=note,
                promised=promised,
            )
    except TaskError as exc:
        return _refused(exc, task_id)
    words = outcome_words().get(chosen, chosen)
    flash(_("Outcome recorded: %(outcome)s.", outcome=words), "message")
    return redirect(url_for("tasks.index"))
