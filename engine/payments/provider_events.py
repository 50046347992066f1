"""Provider webhooks: verified and stored once, then turned into case events from the database.

`accept_provider_webhook` is all a webhook request does: the provider's `parse_webhook`
checks the signature, and the event is stored once (unique on provider and event id; a replay
finds the stored row). `process_provider_events` acts later (the scheduler's `payments` job,
and right after a webhook is stored): it re-fetches the payment from the provider (a webhook
is only a hint), checks amount and currency against the intent and the case, and records the
case event through the one event intake (`engine.intake.events.record_event`) with an event
id made from provider, payment and state, so each fact is stored exactly once however often
it is delivered or processed:

- paid -> `payment_received`; failed -> `payment_failed`; canceled, open, pending -> none;
- refunded -> `payment_received` (if not yet) and `payment_refunded` (for each new refunded
  amount; it does not raise the open amount: a refund is the creditor's own decision);
- charged_back -> `payment_received` (if not yet) and `chargeback`, which raises the open
  amount again. A case the payment had closed is reopened first (`reopen_for_chargeback`).

A payment that does not match (another amount or currency than asked, or a case in another
currency) is refused with the reason on the case's audit trail; the provider event keeps it
as its outcome, and nothing moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.payment import PaymentError, PaymentStatus
from engine.core.case_status import due_now, is_open
from engine.core.clock import naive_utc
from engine.intake.events import record_event
from engine.payments import crash_points
from engine.payments.allocations import book_allocation, charge_back_allocation, has_allocation
from engine.payments.checkout import from_minor
from engine.payments.providers import PaymentProviders
from engine.storage.audit_chain import add_case_audit
from engine.storage.db import Database
from engine.storage.models import (
    CaseRow,
    PaymentIntentRow,
    ProviderEventRow,
    VersionRow,
)

MAX_TRIES = 20  # a provider that cannot tell a payment's status this often: a person looks

# What a write transaction is taken behind: nothing, or a front door's writer queue (on SQLite
# the API's writer lock, so webhook inserts and this processing queue on one lock instead of
# meeting in SQLite's busy handler, which sleeps in coarse steps).
# Dialects whose INSERT ... ON CONFLICT DO NOTHING RETURNING stores an event in one statement.
INSERT_IGNORING = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_EVENTS = ProviderEventRow.__table__
_STORED = ("provider", "event_id", "kind", "payment_id", "body", "received_at", "tries")
# Built once per dialect (Core, bound parameters): SQLAlchemy then finds the compiled form by a
# memoized cache key instead of building an ORM statement for every webhook (measured: about
# a third of the intake's CPU went to building and keying the statement).
_STORE_ONCE = {
    name: make(_EVENTS)
    .values({column: bindparam(column) for column in _STORED})
    .on_conflict_do_nothing()
    .returning(_EVENTS.c.id)
    for name, make in INSERT_IGNORING.items()
}

WriteGuard = Callable[[], AbstractContextManager[object]]


@dataclass(frozen=True)
class Accepted:
    """A stored provider event: its row id, and whether this delivery stored it (not a replay)."""

    id: int
    event_id: str
    created: bool


def accept_provider_webhook(
    session: Session,
    providers: PaymentProviders,
    provider_name: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> Accepted:
    """Verify and store a webhook once. UnknownProvider, or WebhookRejected for a bad one."""
    provider = providers.get(provider_name)
    event = provider.parse_webhook(headers, body)
    values = {
        "provider": provider_name,
        "event_id": event.event_id[:255],
        "kind": event.kind[:100],
        "payment_id": event.payment_id,
        "body": event.body.decode("utf-8", "backslashreplace"),
        "received_at": naive_utc(now),
        "tries": 0,
    }
    dialect = session.get_bind().dialect.name
    if dialect in INSERT_IGNORING:
        # One statement: the unique (provider, event_id) decides; a replay inserts nothing and
        # returns no id (measured: a third of a webhook's cost went to select, savepoint, flush).
        new_id = session.connection().execute(_STORE_ONCE[dialect], values).scalar()
        if new_id is not None:
            return Accepted(new_id, event.event_id, True)
        found = _stored(session, provider_name, event.event_id)
        assert found is not None
        return Accepted(found, event.event_id, False)
    found = _stored(session, provider_name, event.event_id)
    if found is not None:
        return Accepted(found, event.event_id, False)
    row = ProviderEventRow(**values)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # the same event delivered twice at once: one row
        found = _stored(session, provider_name, event.event_id)
        assert found is not None
        return Accepted(found, event.event_id, False)
    return Accepted(row.id, event.event_id, True)


def take_provider_webhook(
    db: Database,
    providers: PaymentProviders,
    provider_name: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    process: bool = True,
) -> Accepted:
    """Store a webhook in a transaction of its own, then (by default) process what is pending."""
    with db.transaction() as session:
        accepted = accept_provider_webhook(session, providers, provider_name, headers, body, now)
    crash_points.reached("event_stored")
    if process:
        process_provider_events(db, providers, now)
    return accepted


def _stored(session: Session, provider: str, event_id: str) -> int | None:
    return session.scalar(
        select(ProviderEventRow.id).where(
            ProviderEventRow.provider == provider, ProviderEventRow.event_id == event_id[:255]
        )
    )


def process_provider_events(
    db: Database,
    providers: PaymentProviders,
    now: datetime,
    limit: int = 200,
    guard: WriteGuard = nullcontext,
) -> dict[str, int]:
    """Act on stored, unprocessed provider events; returns how many ended how.

    Each write transaction is taken behind `guard()`; the provider's status fetch is not.
    """
    with guard(), db.transaction() as session:
        pending = session.execute(
            select(ProviderEventRow.id, ProviderEventRow.provider, ProviderEventRow.payment_id)
            .where(ProviderEventRow.processed_at.is_(None))
            .order_by(ProviderEventRow.id)
            .limit(limit)
        ).all()
    counts: dict[str, int] = {}
    for event_id, provider_name, payment_id in pending:
        outcome = _process_one(db, providers, event_id, provider_name, payment_id, now, guard)
        key = outcome.split(":", 1)[0]
        counts[key] = counts.get(key, 0) + 1
    return counts


def _process_one(
    db: Database,
    providers: PaymentProviders,
    row_id: int,
    provider_name: str,
    payment_id: str | None,
    now: datetime,
    guard: WriteGuard = nullcontext,
) -> str:
    """Fetch the payment (outside any transaction), then record what it means in one."""
    status: PaymentStatus | None = None
    if payment_id is not None and provider_name in providers.profiles:
        try:
            status = providers.get(provider_name).fetch_payment(payment_id)
        except PaymentError as exc:
            return _retry_or_give_up(db, row_id, exc, now, guard)
        except Exception as exc:  # a provider's bug or broken settings: the others go on
            reason = f"{type(exc).__name__}: {exc}"
            return _retry_or_give_up(db, row_id, PaymentError(reason, temporary=True), now, guard)
    with guard(), db.transaction() as session:
        row = session.get(ProviderEventRow, row_id)
        if row is None or row.processed_at is not None:
            return "done"  # another worker processed it meanwhile
        outcome = _record(session, row, status, now)
        row.outcome, row.processed_at = outcome[:200], naive_utc(now)
        row.tries += 1
        crash_points.reached("event_recording")
    return outcome


def _retry_or_give_up(
    db: Database, row_id: int, exc: PaymentError, now: datetime, guard: WriteGuard = nullcontext
) -> str:
    with guard(), db.transaction() as session:
        row = session.get(ProviderEventRow, row_id)
        if row is None:
            return "done"
        row.tries += 1
        row.outcome = f"fetch_failed: {exc.reason}"[:200]
        if not exc.temporary or row.tries >= MAX_TRIES:
            row.processed_at = naive_utc(now)
            return "fetch_failed"
    return "retry"


def _record(
    session: Session, row: ProviderEventRow, status: PaymentStatus | None, now: datetime
) -> str:
    """The case events one fetched status stands for; the outcome to keep on the event row."""
    if status is None:
        return "ignored: no payment named or provider not configured"
    intent = session.scalar(
        select(PaymentIntentRow).where(
            PaymentIntentRow.provider == row.provider,
            PaymentIntentRow.provider_payment_id == status.payment_id,
        )
    )
    if intent is None:
        return "ignored: no intent of ours has this payment"
    case = session.get(CaseRow, intent.case_id)
    assert case is not None
    problem = _mismatch(intent, case, status)
    if problem is not None:
        add_case_audit(session, case, now, "payment_refused", reason=problem, **_facts(row, status))
        return f"refused: {problem}"
    intent.state, intent.updated_at = status.state, naive_utc(now)
    if has_allocation(session, intent.id):
        return _record_allocated(session, case, intent, row, status, now)
    recorded = []
    if status.state in ("paid", "refunded", "charged_back"):
        recorded.append(_case_event(session, case, row, status, "paid", "payment_received", now))
    recorded += _failed_or_refunded(session, case, intent, row, status, now)
    if status.state == "charged_back":
        reopen_for_chargeback(session, case, f"{row.provider}:{status.payment_id}", now)
        recorded.append(_case_event(session, case, row, status, "charged_back", "chargeback", now))
    return "recorded: " + ", ".join(recorded) if recorded else status.state


def _failed_or_refunded(
    session: Session,
    case: CaseRow,
    intent: PaymentIntentRow,
    row: ProviderEventRow,
    status: PaymentStatus,
    now: datetime,
) -> list[str]:
    """A failed payment, or the part of a refund not recorded yet, as events of the case."""
    if status.state == "failed":
        return [_case_event(session, case, row, status, "failed", "payment_failed", now)]
    if status.state == "refunded" and status.amount_refunded_minor > intent.amount_refunded_minor:
        amount = status.amount_refunded_minor - intent.amount_refunded_minor
        state = f"refunded-{status.amount_refunded_minor}"
        recorded = _case_event(session, case, row, status, state, "payment_refunded", now, amount)
        intent.amount_refunded_minor = status.amount_refunded_minor
        return [recorded]
    return []


def _record_allocated(
    session: Session,
    case: CaseRow,
    intent: PaymentIntentRow,
    row: ProviderEventRow,
    status: PaymentStatus,
    now: datetime,
) -> str:
    """A payment for several cases of a debtor: each case its own share and events, once."""
    recorded = []
    if status.state in ("paid", "refunded", "charged_back"):
        recorded += book_allocation(session, intent, row.provider, status, now)
    # A refund is the creditor's own decision (staff): noted on the page case, as for one.
    recorded += _failed_or_refunded(session, case, intent, row, status, now)
    if status.state == "charged_back":
        payment = f"{row.provider}:{status.payment_id}"
        for paid_case, share, event_id in charge_back_allocation(
            session, intent, row.provider, status.payment_id, now
        ):
            reopen_for_chargeback(session, paid_case, payment, now)
            amount = str(from_minor(share, paid_case.currency))
            payload = {"amount": amount, "currency": paid_case.currency}
            record_event(session, paid_case.external_id, event_id, "chargeback", payload, now)
            recorded.append("chargeback")
    return "recorded: " + ", ".join(recorded) if recorded else status.state


def _mismatch(intent: PaymentIntentRow, case: CaseRow, status: PaymentStatus) -> str | None:
    """Why the fetched payment is not the one asked for this case, or None."""
    if status.currency.upper() != intent.currency:
        return f"the payment is in {status.currency}, the checkout asked for {intent.currency}"
    if status.currency.upper() != case.currency:
        return f"the payment is in {status.currency}, the case is in {case.currency}"
    if status.amount_minor != intent.amount_minor:
        return (
            f"the payment is {status.amount_minor} minor units, "
            f"the checkout asked for {intent.amount_minor}"
        )
    return None


def _case_event(
    session: Session,
    case: CaseRow,
    row: ProviderEventRow,
    status: PaymentStatus,
    state: str,
    kind: str,
    now: datetime,
    amount_minor: int | None = None,
) -> str:
    """Record one case event, its id from provider, payment and state: stored exactly once."""
    amount = from_minor(
        status.amount_minor if amount_minor is None else amount_minor, case.currency
    )
    payload: dict[str, Any] = {"amount": str(amount), "currency": status.currency.upper()}
    event_id = f"pay:{row.provider}:{status.payment_id}:{state}"[:100]
    _event, created = record_event(session, case.external_id, event_id, kind, payload, now)
    if created and not is_open(case.status):
        # Money for a case that was closed meanwhile: stored as seen by the intake (with its
        # audit row); this one tells staff that it may have to be paid back.
        add_case_audit(session, case, now, "payment_for_closed_case", event=kind, event_id=event_id)
    return kind


def reopen_for_chargeback(session: Session, case: CaseRow, payment: str, now: datetime) -> bool:
    """Open a case again that a payment closed, so the chargeback's journey can go on.

    A case closed as paid while it waited somewhere in its journey (the policy rule
    `paid_in_full` closes it where it stands) becomes active again at that node, due now with
    its timer run out: the journey goes on as if the wait had ended (a wait_event node may also
    wait for `chargeback` itself). A case that reached an `end` node of its journey has no way
    on: it is held (hold_reason `chargeback`) for a person to decide. Cases closed otherwise
    (by the host, or stopped) are not reopened: the chargeback is stored as seen and audited.
    Returns whether the case was reopened.
    """
    if is_open(case.status) or case.outcome != "paid":
        return False
    at_end = _at_end_node(session, case)
    moment = naive_utc(now)
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case.id)
        .values(
            status="held" if at_end else "active",
            hold_reason="chargeback" if at_end else None,
            outcome=None,
            closed_at=None,
            timer_at=None if at_end else moment,
            due_at=due_now(now),
            updated_at=moment,
        )
    )
    session.refresh(case)
    add_case_audit(
        session, case, now, "reopened", reason="chargeback", payment=payment, held=at_end
    )
    return True


def _at_end_node(session: Session, case: CaseRow) -> bool:
    document = session.scalar(select(VersionRow.document).where(VersionRow.id == case.version_id))
    for node in (document or {}).get("nodes", []):
        if node.get("id") == case.node_id:
            return node.get("type") == "end"
    return False


def _facts(row: ProviderEventRow, status: PaymentStatus) -> dict[str, Any]:
    return {
        "provider": row.provider,
        "payment_id": status.payment_id,
        "amount_minor": status.amount_minor,
        "currency": status.currency,
        "state": status.state,
    }
