"""The runtime's SQL: claim due cases, read their events, write a batch's results at once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bulk import insert_many, update_many
from engine.clock import as_utc, naive_utc
from engine.models import AuditRow, CaseRow, EventRow, OutboxRow
from engine.state import CaseState

CASES = CaseRow.__table__
EVENTS = EventRow.__table__
OUTBOX = OutboxRow.__table__
AUDIT = AuditRow.__table__

# Columns the runtime may change on a case; every update writes all of them (one executemany).
MUTABLE = (
    "node_id",
    "status",
    "outcome",
    "due_at",
    "timer_at",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "amount_open",
    "arms",
    "contact_prefs",
    "hold_reason",
    "promise_date",
    "promise_amount",
    "promise_baseline",
    "messages_sent",
    "payments_count",
    "visits",
)
# Read by the tick: everything but the bookkeeping times, whose parsing would cost for nothing.
CLAIMED = [
    c for c in CaseRow.__table__.c if c.name not in ("created_at", "updated_at", "closed_at")
]


@dataclass
class Writes:
    """Everything one batch changes, written in one transaction."""

    cases: dict[int, CaseState] = field(default_factory=dict)
    closed_at: dict[int, datetime] = field(default_factory=dict)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    applied_events: list[int] = field(default_factory=list)
    due_now: set[int] = field(default_factory=set)
    loaded: dict[int, dict[str, Any]] = field(default_factory=dict)  # column values as read


def state_from_row(row: Any) -> CaseState:
    """A CaseState from a `cases` row mapping."""
    address = (
        {"street": row.street, "postcode": row.postcode or "", "city": row.city or ""}
        if row.street
        else None
    )
    return CaseState(
        id=row.id,
        external_id=row.external_id,
        version_id=row.version_id,
        node_id=row.node_id,
        status=row.status,
        amount_open=row.amount_open,
        amount_original=row.amount_original,
        currency=row.currency,
        due_date=row.due_date,
        country=row.country,
        subdivision=row.subdivision,
        timezone=row.timezone,
        locale=row.locale,
        debtor_type=row.debtor_type,
        email=row.email,
        phone=row.phone,
        address=address,
        attributes=row.attributes or {},
        arms=dict(row.arms or {}),
        contact_prefs=dict(row.contact_prefs or {}),
        timer_at=as_utc(row.timer_at) if row.timer_at else None,
        hold_reason=row.hold_reason,
        outcome=row.outcome,
        promise_date=row.promise_date,
        promise_amount=row.promise_amount,
        promise_baseline=row.promise_baseline,
        messages_sent=row.messages_sent,
        payments_count=row.payments_count,
        visits=row.visits,
    )


def claim_due(session: Session, now: datetime, limit: int) -> list[Any]:
    """Due case rows, oldest first; on PostgreSQL locked so that other workers skip them.

    Active cases come by the (status, due_at) index without a sort; held cases are only due
    when an event arrived for them, and come after.
    """
    rows: list[Any] = []
    for status in ("active", "held"):
        query = (
            select(*CLAIMED)
            .where(CASES.c.status == status, CASES.c.due_at <= naive_utc(now))
            .order_by(CASES.c.due_at)
            .limit(limit - len(rows))
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows.extend(session.execute(query))
        if len(rows) >= limit:
            break
    return rows


def pending_events(session: Session, case_ids: list[int]) -> dict[int, list[Any]]:
    """Unapplied events of these cases, in order of arrival."""
    found: dict[int, list[Any]] = defaultdict(list)
    if not case_ids:
        return found
    rows = session.execute(
        select(EVENTS)
        .where(EVENTS.c.case_id.in_(case_ids), EVENTS.c.applied_at.is_(None))
        .order_by(EVENTS.c.id)
    )
    for row in rows:
        found[row.case_id].append(row)
    return found


def _case_values(cs: CaseState, now: datetime, closed_at: datetime | None) -> dict[str, Any]:
    addr = cs.address or {}
    due = None
    if cs.status == "active" and cs.timer_at is not None:
        due = naive_utc(cs.timer_at)
    return {
        "id": cs.id,
        "node_id": cs.node_id,
        "status": cs.status,
        "outcome": cs.outcome,
        "due_at": due,
        "timer_at": naive_utc(cs.timer_at) if cs.timer_at else None,
        "email": cs.email,
        "phone": cs.phone,
        "street": addr.get("street"),
        "postcode": addr.get("postcode"),
        "city": addr.get("city"),
        "amount_open": cs.amount_open,
        "arms": cs.arms,
        "contact_prefs": cs.contact_prefs,
        "hold_reason": cs.hold_reason,
        "promise_date": cs.promise_date,
        "promise_amount": cs.promise_amount,
        "promise_baseline": cs.promise_baseline,
        "messages_sent": cs.messages_sent,
        "payments_count": cs.payments_count,
        "visits": cs.visits,
        "updated_at": naive_utc(now),
    } | ({"closed_at": naive_utc(closed_at)} if closed_at else {})


def loaded_values(row: Any) -> dict[str, Any]:
    """The mutable column values of a row as read, to write back only what changed."""
    return {name: getattr(row, name) for name in MUTABLE}


def write(session: Session, writes: Writes, now: datetime) -> None:
    """Write a batch's case changes, outbox rows, audit rows and applied events."""
    if writes.cases:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for cs in writes.cases.values():
            values = _case_values(cs, now, writes.closed_at.get(cs.id))
            if cs.id in writes.due_now:
                values["due_at"] = naive_utc(now)  # unapplied events remain: look again at once
            before = writes.loaded.get(cs.id, {})
            changed = {
                k: v
                for k, v in values.items()
                if k == "id" or before.get(k, v) != v or k not in before
            }
            changed["updated_at"] = values["updated_at"]
            groups.setdefault(tuple(sorted(changed)), []).append(changed)
        connection = session.connection()
        for group in groups.values():  # executemany needs the same columns in every row
            update_many(connection, CASES, group)
    connection = session.connection()
    for table, rows in ((OUTBOX, writes.outbox), (AUDIT, writes.audit)):
        shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            shapes.setdefault(tuple(row), []).append(row)
        for group in shapes.values():
            insert_many(connection, table, group)
    if writes.applied_events:
        update_many(
            connection,
            EVENTS,
            [{"id": i, "applied_at": naive_utc(now)} for i in writes.applied_events],
        )
