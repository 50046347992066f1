"""The task drain: turns a task step's outbox row into a task in the inbox, exactly once.

A task step (engine/nodes/task.py) leaves an outbox row in the tick's transaction, on the 'call'
channel for a call and on 'task' for other work. The dispatcher drains these rows first: a call
reaches the debtor, so it asks the contact-policy guard exactly as a send does (allowed hours in
the debtor's zone, caps and gaps, holds, opt-outs) and is deferred or suppressed with the same
reasons; allowed, the task row is inserted and the outbox row marked sent in ONE transaction, so
a crash makes no task or one, never two (the task is unique per case, step and visit, and per
outbox row). A sent call row counts as a contact for the guard's later decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.authoring.versions import VersionCache
from engine.contact_policy import ContactPolicy, Defer, Suppress, decide
from engine.core.clock import as_utc, naive_utc
from engine.core.counts import Counts
from engine.delivery.rendering import case_context, template_limits
from engine.journey.budget import BudgetExceeded
from engine.journey.templating import render
from engine.storage.db import Database
from engine.storage.models import AuditRow, CaseRow, OutboxRow, TaskRow

# Outbox channels of task steps: a call is a contact, other work is not.
TASK_CHANNELS = ("call", "task")
BATCH = 500


@dataclass
class TaskDrainReport(Counts):
    """What one drain did."""

    created: int = 0
    deferred: int = 0
    suppressed: int = 0


@dataclass(frozen=True)
class Guard:
    """What the drain borrows from the dispatcher: its policies, contact history and context."""

    policy: Callable[[str, CaseRow], ContactPolicy]
    history: Callable[[Session, list[tuple[OutboxRow, CaseRow]], datetime], dict[Any, Any]]
    person: Callable[[CaseRow], Any]
    context: Callable[[OutboxRow, CaseRow], Any]
    creditor: str
    portal_base_url: str
    link: Callable[[CaseRow, datetime], str]


def drain_tasks(
    db: Database, now: datetime, guard: Guard, versions: VersionCache
) -> TaskDrainReport:
    """Make the tasks due at `now`, batch by batch, each batch one transaction."""
    report = TaskDrainReport()
    now = as_utc(now)
    while True:
        with db.transaction() as session:
            rows = _due(session, now)
            if not rows:
                break
            history = guard.history(session, [r for r in rows if r[0].channel == "call"], now)
            for message, case in rows:
                _one(session, message, case, history, guard, versions, now, report)
        if len(rows) < BATCH:
            break
    return report


def _due(session: Session, now: datetime) -> list[tuple[OutboxRow, CaseRow]]:
    query = (
        select(OutboxRow, CaseRow)
        .join(CaseRow, CaseRow.id == OutboxRow.case_id)
        .where(
            OutboxRow.channel.in_(TASK_CHANNELS),
            OutboxRow.status == "pending",
            OutboxRow.not_before <= naive_utc(now),
        )
        .order_by(OutboxRow.not_before, OutboxRow.id)
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxRow, skip_locked=True)
    return [(m, c) for m, c in session.execute(query)]


def _one(
    session: Session,
    message: OutboxRow,
    case: CaseRow,
    history: dict[Any, Any],
    guard: Guard,
    versions: VersionCache,
    now: datetime,
    report: TaskDrainReport,
) -> None:
    if case.status == "closed":  # paid or closed since the step: no work for anyone
        _suppress(session, message, "case_closed", f"The case is closed ({case.outcome}).", now)
        report.suppressed += 1
        return
    if message.channel == "call":
        if not case.phone:
            _suppress(session, message, "no_address:call", "The case has no phone number.", now)
            report.suppressed += 1
            return
        version = versions.get(session, message.version_id)
        contacts = history[guard.person(case)]
        decision = decide(
            guard.policy(version.journey.jurisdiction, case),
            guard.context(message, case),
            contacts.records_for(case.id),
            now,
        )
        if isinstance(decision, Defer):
            _defer(session, message, decision, case.timezone, now)
            report.deferred += 1
            return
        if isinstance(decision, Suppress):
            _suppress(session, message, decision.reason, decision.message, now)
            report.suppressed += 1
            return
        contacts.add(case.id, "call", now)  # the debtor's other cases in this batch see it
    _create(session, message, case, guard, now)
    report.created += 1


def _create(
    session: Session, message: OutboxRow, case: CaseRow, guard: Guard, now: datetime
) -> None:
    """Insert the task and mark its outbox row sent, in the caller's transaction."""
    payload = dict(message.payload or {})
    instructions = render_instructions(str(payload.get("instructions") or ""), case, guard, now)
    stamp = naive_utc(now)
    task_id = session.execute(
        insert(TaskRow)
        .values(
            case_id=case.id,
            version_id=message.version_id,
            node_id=message.node_id,
            visit=int(payload.get("visit") or 0),
            outbox_id=message.id,
            kind=str(payload.get("kind") or "other"),
            queue=str(payload.get("queue") or "default"),
            assignee=payload.get("assignee") or None,
            instructions=instructions,
            status="open",
            due_at=datetime.fromisoformat(str(payload["due_at"])),
            created_at=stamp,
        )
        .returning(TaskRow.id)
    ).scalar_one()
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == message.id)
        .values(
            status="sent",
            sent_at=stamp,
            reason=None,
            recipient=case.phone if message.channel == "call" else None,
            body=instructions,
        )
    )
    _audit(session, message, "task", now, task_id=task_id, queue=payload.get("queue"))


def render_instructions(source: str, case: CaseRow, guard: Guard, now: datetime) -> str:
    """The task's instructions rendered like a message template, for this case.

    A render that fails still makes the task (a person can do the work without the words):
    the raw text follows the reason.
    """
    context = case_context(
        case, now, guard.portal_base_url, guard.creditor, link=guard.link(case, now)
    )
    try:
        return render("", source, None, context, template_limits()).body
    except BudgetExceeded as exc:
        return f"[{exc}]\n{source}"
    except Exception as exc:  # Jinja errors of every kind
        return f"[The instructions could not be rendered: {exc}]\n{source}"


def _defer(
    session: Session, message: OutboxRow, decision: Defer, zone: str | None, now: datetime
) -> None:
    reason = f"deferred:{decision.reason}"
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == message.id)
        .values(not_before=naive_utc(decision.until), reason=reason)
    )
    if message.reason != reason:  # one audit row per new reason, as for a message
        _audit(
            session,
            message,
            "deferral",
            now,
            reason=decision.reason,
            message=decision.message,
            until=as_utc(decision.until).isoformat(),
            zone=zone,
        )


def _suppress(session: Session, message: OutboxRow, reason: str, text: str, now: datetime) -> None:
    session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == message.id)
        .values(status="suppressed", reason=reason)
    )
    _audit(session, message, "suppression", now, reason=reason, message=text)


def _audit(session: Session, row: OutboxRow, kind: str, now: datetime, **detail: Any) -> None:
    session.execute(
        insert(AuditRow).values(
            at=naive_utc(now),
            case_id=row.case_id,
            version_id=row.version_id,
            node_id=row.node_id,
            kind=kind,
            rule=None,
            detail={"outbox_id": row.id, "channel": row.channel, **detail},
        )
    )
