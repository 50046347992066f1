"""The task inbox's writes and reads: list, claim, unclaim, record an outcome.

Claiming is one conditional UPDATE (only an open task, or one the same person holds, changes),
so two agents clicking at once get one claim and one refusal. An outcome is recorded as a case
event through the one event intake (engine/intake/events.py record_event: idempotent by the
event id `task-<id>`, made due for the tick, audited, told to the host as a webhook); the tick
then moves the case out of the port of that outcome. A task whose case has left its step (the
due date passed, the case was paid or closed) takes no outcome any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from engine.core.clock import as_utc, naive_utc
from engine.core.messages import Text, Verbatim, msg
from engine.intake.events import clean_payload, record_event
from engine.nodes.task import KIND_WORDS, OUTCOME_EVENTS, OUTCOME_WORDS, outcomes
from engine.storage.models import AuditRow, CaseRow, TaskRow

TASK_STATUSES = ("open", "claimed", "done")
PAGE = 200


class TaskError(ValueError):
    """A task request that cannot be done as asked; `field` names what is wrong."""

    def __init__(self, words: Text, field: str = "task") -> None:
        super().__init__(words.text())
        self.words = words
        self.field = field


class TaskNotFound(TaskError):
    """There is no task with this id."""


class TaskConflict(TaskError):
    """The task is someone else's, already done, or its case has moved on."""


@dataclass(frozen=True)
class TaskView:
    """A task with what an agent needs of its case beside it."""

    id: int
    case_id: int
    case_external_id: str
    debtor_name: str
    amount_open: Decimal
    currency: str
    phone: str | None
    email: str | None
    timezone: str
    locale: str
    kind: str
    queue: str
    assignee: str | None
    instructions: str
    status: str
    claimed_by: str | None
    outcome: str | None
    note: str | None
    due_at: datetime
    created_at: datetime
    done_at: datetime | None
    done_by: str | None
    live: bool  # the case still waits at the task's step for an outcome
    overdue: bool

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The outcomes a person may record on this task."""
        return outcomes(self.kind)

    def kind_words(self) -> Text:
        """The task's kind in words."""
        return KIND_WORDS.get(self.kind, KIND_WORDS["other"])

    def to_json(self) -> dict[str, Any]:
        """The task as the API shows it."""
        return {
            "id": self.id,
            "case": self.case_external_id,
            "kind": self.kind,
            "queue": self.queue,
            "assignee": self.assignee,
            "instructions": self.instructions,
            "status": self.status,
            "claimed_by": self.claimed_by,
            "outcome": self.outcome,
            "note": self.note,
            "due_at": self.due_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "overdue": self.overdue,
            "waiting": self.live,
            "outcomes": list(self.outcomes),
        }


def _live() -> Any:
    """SQL: the task's case still sits at the task's step, in the same visit, and is active."""
    return and_(
        CaseRow.node_id == TaskRow.node_id,
        CaseRow.visits == TaskRow.visit,
        CaseRow.status == "active",
    )


def _query() -> Any:
    return select(TaskRow, CaseRow, _live().label("live")).join(
        CaseRow, CaseRow.id == TaskRow.case_id
    )


def _view(task: TaskRow, case: CaseRow, live: bool, now: datetime) -> TaskView:
    due = as_utc(task.due_at)
    return TaskView(
        id=task.id,
        case_id=case.id,
        case_external_id=case.external_id,
        debtor_name=case.debtor_name,
        amount_open=case.amount_open,
        currency=case.currency,
        phone=case.phone,
        email=case.email,
        timezone=case.timezone,
        locale=case.locale,
        kind=task.kind,
        queue=task.queue,
        assignee=task.assignee,
        instructions=task.instructions,
        status=task.status,
        claimed_by=task.claimed_by,
        outcome=task.outcome,
        note=task.note,
        due_at=due,
        created_at=as_utc(task.created_at),
        done_at=as_utc(task.done_at) if task.done_at else None,
        done_by=task.done_by,
        live=bool(live),
        overdue=task.status != "done" and due < as_utc(now),
    )


def list_tasks(
    session: Session,
    now: datetime,
    *,
    queue: str | None = None,
    overdue: bool = False,
    mine: str | None = None,
    status: str | None = None,
    case: str | None = None,
    limit: int = PAGE,
) -> list[TaskView]:
    """Tasks by due date, oldest first; without `status`, the ones waiting for a person.

    `mine`: only the tasks this person claimed or was assigned; `overdue`: only those past due.
    """
    query = _query()
    if status in TASK_STATUSES:
        query = query.where(TaskRow.status == status)
    else:
        query = query.where(TaskRow.status != "done", _live())
    if queue:
        query = query.where(TaskRow.queue == queue)
    if overdue:
        query = query.where(TaskRow.status != "done", TaskRow.due_at < naive_utc(now))
    if mine:
        query = query.where(or_(TaskRow.claimed_by == mine, TaskRow.assignee == mine))
    if case:
        query = query.where(CaseRow.external_id == case)
    query = query.order_by(TaskRow.due_at, TaskRow.id).limit(max(1, min(limit, 1000)))
    return [_view(t, c, live, now) for t, c, live in session.execute(query)]


def task_queues(session: Session) -> list[str]:
    """Every queue that has a task, by name."""
    return list(session.scalars(select(TaskRow.queue).distinct().order_by(TaskRow.queue)))


def count_open_tasks(session: Session) -> int:
    """How many tasks wait for a person."""
    query = select(func.count()).select_from(TaskRow).join(CaseRow, CaseRow.id == TaskRow.case_id)
    return int(session.scalar(query.where(TaskRow.status != "done", _live())) or 0)


def get_task(session: Session, task_id: int, now: datetime) -> TaskView:
    """One task; TaskNotFound when there is none."""
    row = session.execute(_query().where(TaskRow.id == task_id)).first()
    if row is None:
        raise TaskNotFound(msg("There is no task {id}.", id=task_id))
    return _view(row[0], row[1], row[2], now)


def claim_task(session: Session, task_id: int, person: str, now: datetime) -> TaskView:
    """Claim an open task for `person`; TaskConflict when someone else has it or it is done."""
    task = get_task(session, task_id, now)
    if not task.live and task.status != "done":
        raise TaskConflict(MOVED_ON)
    changed = session.execute(
        update(TaskRow)
        .where(
            TaskRow.id == task_id,
            or_(TaskRow.status == "open", TaskRow.claimed_by == person),
            TaskRow.status != "done",
        )
        .values(status="claimed", claimed_by=person, claimed_at=naive_utc(now))
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        raise _why_not(get_task(session, task_id, now), person)
    _audit(session, task, "task_claimed", now, by=person)
    return get_task(session, task_id, now)


def unclaim_task(
    session: Session, task_id: int, person: str, now: datetime, *, anyone: bool = False
) -> TaskView:
    """Give a claimed task back to its queue (`anyone`: a manager may take it from another)."""
    task = get_task(session, task_id, now)
    whose = TaskRow.claimed_by.is_not(None) if anyone else TaskRow.claimed_by == person
    changed = session.execute(
        update(TaskRow)
        .where(TaskRow.id == task_id, TaskRow.status == "claimed", whose)
        .values(status="open", claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        if task.status == "open":
            raise TaskConflict(msg("Task {id} is not claimed.", id=task_id))
        raise _why_not(task, person)
    _audit(session, task, "task_unclaimed", now, by=person, was=task.claimed_by)
    return get_task(session, task_id, now)


MOVED_ON = msg(
    "The case has left this step (the task's due date passed, or the case was paid, closed or "
    "put on hold): no outcome can be recorded any more."
)


NO_DATE = msg("Give the promised payment date.")
BAD_DATE = msg("Give the date as year-month-day, e.g. 2026-04-30.")


def _why_not(task: TaskView, person: str) -> TaskConflict:
    if task.status == "done":
        words = OUTCOME_WORDS.get(task.outcome or "", msg("done"))
        return TaskConflict(
            msg("Task {id} is already done: {outcome}.", id=task.id, outcome=words), "task"
        )
    if task.claimed_by and task.claimed_by != person:
        return TaskConflict(
            msg("Task {id} is claimed by {person}.", id=task.id, person=task.claimed_by), "task"
        )
    return TaskConflict(MOVED_ON)


def record_task_outcome(
    session: Session,
    task_id: int,
    outcome: str,
    person: str,
    now: datetime,
    *,
    note: str = "",
    promised: date | str | None = None,
    amount: Decimal | str | None = None,
) -> TaskView:
    """Record what came of a task; the case leaves the task's step by that outcome's port.

    The task must be open or claimed by `person`, and its case still at the step. The outcome
    goes in as the case event of `OUTCOME_EVENTS` with id `task-<id>`: a second outcome for
    the same task is refused (the task is done), never stored twice.
    """
    task = get_task(session, task_id, now)
    if outcome not in task.outcomes:
        choices = ", ".join(task.outcomes)
        raise TaskError(msg("Choose one of: {choices}.", choices=choices), "outcome")
    if task.status == "done" or (task.claimed_by and task.claimed_by != person):
        raise _why_not(task, person)
    if not task.live:
        raise TaskConflict(MOVED_ON)
    if outcome == "promise_taken" and promised in (None, ""):
        raise TaskError(NO_DATE, "date")
    if promised not in (None, ""):
        try:
            date.fromisoformat(str(promised))
        except ValueError as exc:
            raise TaskError(BAD_DATE, "date") from exc
    if len(note or "") > 2000:
        raise TaskError(msg("Keep the note to 2000 characters."), "note")
    kind = OUTCOME_EVENTS[outcome]
    payload: dict[str, Any] = {"task": task_id, "note": note or ""}
    if promised not in (None, ""):
        payload["date"] = str(promised)
    if amount not in (None, ""):
        payload["amount"] = str(amount)
    try:
        clean = clean_payload(kind, payload)
    except ValidationError as exc:
        field, messages = next(iter(_flat(exc.messages).items()))
        raise TaskError(Verbatim(" ".join(messages)), field) from exc
    if outcome == "promise_taken" and date.fromisoformat(clean["date"]) < as_utc(now).date():
        raise TaskError(msg("The promised date lies in the past."), "date")
    changed = session.execute(
        update(TaskRow)
        .where(
            TaskRow.id == task_id,
            TaskRow.status != "done",
            or_(TaskRow.claimed_by.is_(None), TaskRow.claimed_by == person),
        )
        .values(
            status="done",
            outcome=outcome,
            note=(note or None),
            done_at=naive_utc(now),
            done_by=person,
            claimed_by=func.coalesce(TaskRow.claimed_by, person),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:  # another person or request got there first
        raise _why_not(get_task(session, task_id, now), person)
    record_event(session, task.case_external_id, f"task-{task_id}", kind, clean, now)
    _audit(session, task, "task_outcome", now, by=person, outcome=outcome, note=note or "")
    return get_task(session, task_id, now)


def _flat(messages: Any) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        return {str(k): v if isinstance(v, list) else [str(v)] for k, v in messages.items()}
    return {"task": [str(messages)]}


def _audit(session: Session, task: TaskView, kind: str, now: datetime, **detail: Any) -> None:
    row = session.get(TaskRow, task.id)
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=task.case_id,
            version_id=row.version_id if row else None,
            node_id=row.node_id if row else None,
            kind=kind,
            detail={"task_id": task.id, "queue": task.queue, **detail},
        )
    )
