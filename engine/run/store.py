"""The runtime's SQL: claim due cases, read their events, write a batch's results at once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from inspect import signature
from itertools import compress
from operator import itemgetter, ne
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.analytics.facts import FactWrites
from engine.analytics.writes import write_facts
from engine.core.case_status import OPEN_STATUSES, next_due_at
from engine.core.clock import naive_utc
from engine.core.state import CaseState
from engine.intake.debtor_holds import spread_debtor_events
from engine.payments.credits import Overpayment, keep_overpayments
from engine.run.bulk import (
    aware_utc,
    decode,
    insert_rows,
    sqlite_datetime,
    sqlite_reader,
    update_rows,
)
from engine.storage.audit_chain import CHAINED, FIELDS, chain_values
from engine.storage.models import AuditRow, CaseRow, EventRow, OutboxRow

CASES = CaseRow.__table__
EVENTS = EventRow.__table__
OUTBOX = OutboxRow.__table__
AUDIT = AuditRow.__table__

# What the tick reads of a case: CaseState's fields, with the address as its three columns.
CLAIMED = (
    "id",
    "external_id",
    "version_id",
    "node_id",
    "status",
    "amount_open",
    "amount_original",
    "currency",
    "due_date",
    "country",
    "subdivision",
    "timezone",
    "locale",
    "debtor_type",
    "email",
    "phone",
    "street",
    "postcode",
    "city",
    "attributes",
    "arms",
    "contact_prefs",
    "timer_at",
    "hold_reason",
    "outcome",
    "promise_date",
    "promise_amount",
    "promise_baseline",
    "messages_sent",
    "payments_count",
    "visits",
    "counters",
    "payment_history",
    "charges",
    "hold_until",
)
# Columns the runtime may change on a case, in the order of `case_values`.
MUTABLE = (
    "node_id",
    "status",
    "outcome",
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
    "counters",
    "payment_history",
    "charges",
    "hold_until",
)
# Written on every update besides the changed columns of MUTABLE.
ALWAYS = ("due_at", "updated_at")


# Outbox and audit rows are plain tuples (a NamedTuple built by keyword costs 1.1 us a row, a
# tuple 0.1 us; the tick writes 3 rows per case step). Callers build them by name through these
# two functions; the order of their parameters is the order of the columns, which only the
# store knows (tests/engine/run/test_store.py pins that each returns its parameters in order).
OutboxValues = tuple[Any, ...]
AuditValues = tuple[Any, ...]


def outbox_values(
    *,
    idempotency_key: str,
    case_id: int,
    version_id: int,
    node_id: str,
    channel: str,
    status: str,
    reason: str | None,
    template: str | None,
    tone: int | None,
    purpose: str | None,
    fallback_channel: str | None,
    payload: dict[str, Any] | None,
    not_before: datetime,
    created_at: datetime,
    attempts: int = 0,
) -> OutboxValues:
    """An outbox row as the tick writes it."""
    return (
        idempotency_key,
        case_id,
        version_id,
        node_id,
        channel,
        status,
        reason,
        template,
        tone,
        purpose,
        fallback_channel,
        payload,
        not_before,
        created_at,
        attempts,
    )


def audit_values(
    *,
    at: datetime,
    case_id: int,
    version_id: int,
    node_id: str,
    kind: str,
    rule: str | None,
    detail: dict[str, Any] | None,
) -> AuditValues:
    """An audit row as the tick writes it."""
    return (at, case_id, version_id, node_id, kind, rule, detail)


OUTBOX_COLUMNS: tuple[str, ...] = tuple(signature(outbox_values).parameters)
AUDIT_COLUMNS: tuple[str, ...] = tuple(signature(audit_values).parameters)
assert AUDIT_COLUMNS == FIELDS, "the audit chain hashes rows in the tick's column order"
# Each claimed row ends with a flag: does the case have unapplied events? The index probe
# costs far less inside the claim than a second query for every batch's case ids.
_PENDING = "EXISTS (SELECT 1 FROM events WHERE events.case_id = cases.id AND applied_at IS NULL)"
# SQLite: each case's audit chain head too (one probe of the audit case index). BEGIN
# IMMEDIATE holds the write lock from the claim to the commit, so the head stays the head;
# PostgreSQL reads the heads after locking, when other writers' rows are visible.
_HEAD = (  # an empty chain's head is GENESIS, 32 zero bytes
    "COALESCE((SELECT hash FROM audit WHERE audit.case_id = cases.id "
    "ORDER BY audit.id DESC LIMIT 1), zeroblob(32))"
)
_CLAIMED_SQL = (
    f"SELECT {', '.join(CLAIMED)}, {_PENDING}, {_HEAD} FROM cases "
    "WHERE status = ? AND due_at <= ? ORDER BY due_at LIMIT ?"
)
# The runtime keeps times aware (UTC); timer_at is read that way straight from its text.
_SQLITE_READERS = (
    *(aware_utc if name == "timer_at" else sqlite_reader(CASES, name) for name in CLAIMED),
    None,  # the pending-events flag
    None,  # the audit chain head
)
CLAIMED_AT = {name: at for at, name in enumerate(CLAIMED)}  # a claimed row's value by name
_STREET = CLAIMED.index("street")
_TIMER_AT = CLAIMED.index("timer_at")
_FLAG = len(CLAIMED)  # the pending-events flag follows the CLAIMED values
_HEAD_AT = _FLAG + 1  # then, on SQLite, the case's audit chain head
_AS_LOADED = itemgetter(*(CLAIMED.index(name) for name in MUTABLE))


class PendingEvent(NamedTuple):
    """An event stored for a case and not applied yet."""

    id: int
    case_id: int
    event_id: str
    type: str
    payload: dict[str, Any] | None


@dataclass
class Writes:
    """Everything one batch changes, written in one transaction."""

    cases: dict[int, CaseState] = field(default_factory=dict)
    closed_at: dict[int, datetime] = field(default_factory=dict)
    outbox: list[OutboxValues] = field(default_factory=list)
    audit: list[AuditValues] = field(default_factory=list)
    applied_events: list[int] = field(default_factory=list)
    due_now: set[int] = field(default_factory=set)
    parked: set[int] = field(default_factory=set)  # cases of paused journeys: due on unpause
    loaded: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # MUTABLE values as read
    # Events about the person (insolvency, death, ...) applied to a case: each goes to the
    # debtor's other open cases after this batch is written (engine/intake/debtor_holds.py).
    debtor_events: list[DebtorEvent] = field(default_factory=list)
    # Payments beyond a case's debt, kept as the debtor's credit (engine/payments/credits.py).
    overpayments: list[Overpayment] = field(default_factory=list)
    # The claimed cases' audit chain heads where the claim read them (SQLite).
    heads: dict[int, bytes] | None = None
    # Outcome facts and step counts (engine/analytics), written with the rest of the batch.
    facts: FactWrites = field(default_factory=FactWrites)


class DebtorEvent(NamedTuple):
    """An event applied to one case that holds (or releases) every case of its debtor."""

    case_id: int
    external_id: str
    type: str
    event_id: str
    payload: dict[str, Any]


def state_from_row(row: list[Any]) -> CaseState:
    """A CaseState from a claimed row (CLAIMED values as Python types, then the events flag).

    CLAIMED lists CaseState's fields in their order, with the address as its three columns,
    so the row's runs before and after the address pass straight through.
    """
    street, postcode, city, attributes, arms, prefs = row[_STREET:_TIMER_AT]
    address = (  # a postcode alone is kept too (the portal's second factor reads it)
        {"street": street or "", "postcode": postcode or "", "city": city or ""}
        if street or postcode or city
        else None
    )
    cs = CaseState(
        *row[:_STREET],
        address,
        attributes or {},
        dict(arms or ()),
        dict(prefs or ()),
        *row[_TIMER_AT:_FLAG],
    )
    cs.counters = dict(cs.counters or ())  # NULL on rows from before counters
    cs.payment_history = dict(cs.payment_history or ())
    cs.charges = dict(cs.charges or ())  # NULL on rows from before fees and interest
    return cs


def claimed_value(row: list[Any], name: str) -> Any:
    """One column's value of a claimed row (a name of CLAIMED)."""
    return row[CLAIMED_AT[name]]


def claimed_id(row: list[Any]) -> int:
    """The case id of a claimed row."""
    return int(row[0])


def loaded_values(row: list[Any]) -> tuple[Any, ...]:
    """The MUTABLE column values of a claimed row as read, to write back only what changed."""
    return _AS_LOADED(row)


def has_events(row: list[Any]) -> bool:
    """Whether a claimed case had unapplied events when it was claimed."""
    return bool(row[_FLAG])


def audit_heads(rows: list[list[Any]]) -> dict[int, bytes] | None:
    """The claimed cases' audit chain heads by case id, where the claim read them (SQLite)."""
    if not rows or len(rows[0]) <= _HEAD_AT:
        return None
    return {row[0]: row[_HEAD_AT] for row in rows}


def claim_due(session: Session, now: datetime, limit: int) -> list[list[Any]]:
    """Due case rows (CLAIMED values, then the events flag), oldest first; locked on PostgreSQL.

    Active cases come by the (status, due_at) index without a sort; held cases are only due
    when an event arrived for them, and come after. On PostgreSQL other workers skip the rows
    we locked.
    """
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    at = naive_utc(now)
    rows: list[list[Any]] = []
    for status in OPEN_STATUSES:  # active first, by the index; then held
        want = limit - len(rows)
        if sqlite:
            raw = connection.exec_driver_sql(
                _CLAIMED_SQL, (status, sqlite_datetime(at), want)
            ).fetchall()
            rows.extend(decode(raw, _SQLITE_READERS))
        else:
            pending = (
                select(EVENTS.c.id)
                .where(EVENTS.c.case_id == CASES.c.id, EVENTS.c.applied_at.is_(None))
                .exists()
            )
            query = (
                select(*(CASES.c[name] for name in CLAIMED), pending)
                .where(CASES.c.status == status, CASES.c.due_at <= at)
                .order_by(CASES.c.due_at)
                .limit(want)
                .with_for_update(skip_locked=True)
            )
            for row in connection.execute(query):
                values = list(row)
                if values[_TIMER_AT] is not None:
                    values[_TIMER_AT] = values[_TIMER_AT].replace(tzinfo=UTC)
                rows.append(values)
        if len(rows) >= limit:
            break
    return rows


def pending_events(session: Session, case_ids: list[int]) -> dict[int, list[PendingEvent]]:
    """Unapplied events of these cases, in order of arrival."""
    found: dict[int, list[PendingEvent]] = defaultdict(list)
    if not case_ids:
        return found
    rows = session.connection().execute(
        select(EVENTS.c.id, EVENTS.c.case_id, EVENTS.c.event_id, EVENTS.c.type, EVENTS.c.payload)
        .where(EVENTS.c.case_id.in_(case_ids), EVENTS.c.applied_at.is_(None))
        .order_by(EVENTS.c.id)
    )
    for row in rows:
        found[row.case_id].append(PendingEvent(*row))
    return found


def case_values(cs: CaseState) -> tuple[Any, ...]:
    """The MUTABLE column values of a case as it stands now."""
    addr = cs.address
    return (
        cs.node_id,
        cs.status,
        cs.outcome,
        cs.timer_at,
        cs.email,
        cs.phone,
        (addr.get("street") or None) if addr else None,
        (addr.get("postcode") or None) if addr else None,
        (addr.get("city") or None) if addr else None,
        cs.amount_open,
        cs.arms,
        cs.contact_prefs,
        cs.hold_reason,
        cs.promise_date,
        cs.promise_amount,
        cs.promise_baseline,
        cs.messages_sent,
        cs.payments_count,
        cs.visits,
        cs.counters,
        cs.payment_history,
        cs.charges,
        cs.hold_until,
    )


def _case_updates(writes: Writes, stamp: datetime) -> dict[tuple[str, ...], list[tuple]]:
    """Case updates grouped by the columns they change (executemany needs one shape)."""
    groups: dict[tuple[tuple[bool, ...], bool], list[tuple]] = defaultdict(list)
    everything = (True,) * len(MUTABLE)
    for cs in writes.cases.values():
        values = case_values(cs)
        before = writes.loaded.get(cs.id)
        # Compared in C, a mask of changed columns: this runs for every case of every batch.
        changed = everything if before is None else tuple(map(ne, before, values))
        due = (
            None
            if cs.id in writes.parked
            else next_due_at(cs.status, cs.timer_at, stamp, cs.id in writes.due_now)
        )
        closed = writes.closed_at.get(cs.id)
        row = (cs.id, *compress(values, changed), due, stamp)
        if closed is not None:
            row += (naive_utc(closed),)
        groups[changed, closed is not None].append(row)
    return {
        ("id", *compress(MUTABLE, changed), *ALWAYS, *(("closed_at",) if closed else ())): rows
        for (changed, closed), rows in groups.items()
    }


def write(session: Session, writes: Writes, now: datetime) -> None:
    """Write a batch's case changes, outbox rows, audit rows and applied events."""
    stamp = naive_utc(now)
    connection = session.connection()
    for columns, rows in _case_updates(writes, stamp).items():
        update_rows(connection, CASES, columns, rows)
    insert_rows(connection, OUTBOX, OUTBOX_COLUMNS, writes.outbox)
    # The batch claimed (and on PostgreSQL locked) its cases: their chains are this batch's.
    chained = chain_values(connection, writes.audit, locked=True, known=writes.heads)
    insert_rows(connection, AUDIT, CHAINED, chained)
    write_facts(connection, writes.facts, stamp)  # after the audit: a payer's path is read there
    update_rows(
        connection,
        EVENTS,
        ("id", "applied_at"),
        [(event_id, stamp) for event_id in writes.applied_events],
    )
    if writes.overpayments:  # rare: a payment beyond its case's debt
        keep_overpayments(connection, writes.overpayments, stamp)
    if writes.debtor_events:  # rare: after the cases' writes, so their due_at stays as set here
        spread_debtor_events(session, writes.debtor_events, now)
