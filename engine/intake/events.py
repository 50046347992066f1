"""Storing events: validated, idempotent by event id, and marking the case due now.

`decide_event` is the one rule for a host event, whichever writer stores it (this module's
`record_event` through the ORM, `host_cases.record_host_event` in Core, `event_bulk` many at
once, `event_intake` on a bare DBAPI connection for the API's hot path): what a repeated event
id means, whether the case exists, whether the payload suits its type and the case's currency,
and whether the event is stored to be applied (an open case) or stored as seen (a closed or
stopped case). `event_row` says what the events row holds and `mark_due` is the statement that
makes the case due. The writers differ in how they read and write, never in what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate
from sqlalchemy import ColumnElement, Update, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import event_types
from engine.core.case_status import OPEN_STATUSES, due_now, is_open
from engine.core.clock import naive_utc
from engine.journey.document import channel_choice
from engine.storage.models import AuditRow, CaseRow, EventRow

# An event id: what the events.event_id column holds. Every schema that takes one uses this.
EVENT_ID_LENGTH = validate.Length(min=1, max=100)


class PaymentPayload(Schema):
    amount = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    currency = fields.String(required=True, validate=validate.Length(equal=3))
    # How and with which reference the money came, when staff record it (engine.intake.
    # staff_actions); absent otherwise, so other writers' payloads stay as they were.
    method = fields.String(validate=validate.Length(min=1, max=32))
    reference = fields.String(validate=validate.Length(max=100))


class FailedPaymentPayload(PaymentPayload):
    """A failed payment, with the provider's reason (e.g. insufficient_funds) when known."""

    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class FeePayload(PaymentPayload):
    """A fee charged on the case: its amount, and the name of the fee table or the reason."""

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class InterestPayload(PaymentPayload):
    """Interest booked on the case for the days [from, to) at `rate` percent a year."""

    from_ = fields.Date(load_default=None, allow_none=True, data_key="from")
    to = fields.Date(load_default=None, allow_none=True)
    rate = fields.Decimal(load_default=None, allow_none=True, as_string=True)
    mode = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=20))


class PromisePayload(Schema):
    date = fields.Date(required=True)
    amount = fields.Decimal(
        load_default=None, places=2, as_string=True, validate=validate.Range(min=0)
    )


class CallbackPayload(Schema):
    """A call back asked for on a day, within a window of whole hours (the debtor's time)."""

    date = fields.Date(required=True)
    start_hour = fields.Integer(required=True, validate=validate.Range(min=0, max=23))
    end_hour = fields.Integer(required=True, validate=validate.Range(min=1, max=24))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=32))


class PlanPayload(Schema):
    """A plan agreed: its row id, how many instalments, the total and first date, and by whom."""

    plan = fields.Integer(required=True, validate=validate.Range(min=1))
    instalments = fields.Integer(required=True, validate=validate.Range(min=2, max=24))
    amount = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    currency = fields.String(required=True, validate=validate.Length(equal=3))
    first_date = fields.Date(required=True)
    by = fields.String(load_default="portal", validate=validate.Length(max=254))


class PlanChangedPayload(PlanPayload):
    """A plan agreed in place of the active one (the debtor changed it): which it replaces."""

    replaces = fields.Integer(required=True, validate=validate.Range(min=1))


class PlanCancelledPayload(Schema):
    """A plan cancelled before its end: which, and by whom."""

    plan = fields.Integer(required=True, validate=validate.Range(min=1))
    by = fields.String(load_default="portal", validate=validate.Length(max=254))


class InstalmentPayload(Schema):
    """One instalment of a plan: which, its date and amount."""

    plan = fields.Integer(required=True, validate=validate.Range(min=1))
    seq = fields.Integer(required=True, validate=validate.Range(min=1, max=24))
    due_date = fields.Date(required=True)
    amount = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    currency = fields.String(required=True, validate=validate.Length(equal=3))


class PlanDonePayload(Schema):
    plan = fields.Integer(required=True, validate=validate.Range(min=1))


class ContactPayload(Schema):
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    street = fields.String(validate=validate.Length(max=200))
    postcode = fields.String(validate=validate.Length(max=16))
    city = fields.String(validate=validate.Length(max=100))


class ConsentPayload(Schema):
    channel = fields.String(required=True, validate=channel_choice())
    granted = fields.Boolean(required=True)


class ChannelPayload(Schema):
    channel = fields.String(required=True, validate=channel_choice())


class TaskOutcomePayload(Schema):
    """A task's outcome as a person recorded it: which task, a note, a promised date."""

    task = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    date = fields.Date(load_default=None, allow_none=True)
    amount = fields.Decimal(
        load_default=None, places=2, as_string=True, validate=validate.Range(min=0)
    )


class TaskPromisePayload(TaskOutcomePayload):
    """A promise taken on a call: the promised date is required."""

    date = fields.Date(required=True)


class HoldPayload(Schema):
    """An event starting a hold: its keys as sent (kind, note, by ...), `until` a date if given.

    `until` is the hold's last day: on that day (the case's time zone) the schedule records the
    event that ends the hold (engine/intake/hold_until.py); insolvency and death keep it only
    as a note, a person ends those.
    """

    class Meta:
        unknown = INCLUDE  # a hold's payload was always free: only `until` is checked

    until = fields.Date(allow_none=True)


PAYLOADS: dict[str, type[Schema]] = {
    "payment_received": PaymentPayload,
    "payment_failed": FailedPaymentPayload,
    "payment_refunded": PaymentPayload,
    "chargeback": PaymentPayload,
    "promise_to_pay": PromisePayload,
    "callback_requested": CallbackPayload,
    "contact_changed": ContactPayload,
    "consent_changed": ConsentPayload,
    "opted_out": ChannelPayload,
    "fee_charged": FeePayload,
    "interest_booked": InterestPayload,
    "plan_agreed": PlanPayload,
    "instalment_paid": InstalmentPayload,
    "instalment_missed": InstalmentPayload,
    "plan_completed": PlanDonePayload,
    "plan_changed": PlanChangedPayload,
    "plan_cancelled": PlanCancelledPayload,
    "task_done": TaskOutcomePayload,
    "task_not_reached": TaskOutcomePayload,
    "task_promise_taken": TaskPromisePayload,
    "task_escalated": TaskOutcomePayload,
    **dict.fromkeys(event_types.HOLD_STARTS, HoldPayload),
}


# One instance per schema: they hold no state between loads, and the API calls this per request.
_SCHEMAS: dict[str, Schema] = {kind: schema() for kind, schema in PAYLOADS.items()}


class UnknownCase(LookupError):
    """The event names a case that does not exist."""


def clean_payload(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate an event's payload; raises ValidationError naming the field."""
    if kind not in event_types.ALL:
        raise ValidationError({"type": [f"Unknown event type '{kind}'."]})
    schema = _SCHEMAS.get(kind)
    if schema is None:
        return dict(payload)
    # Load to validate, dump to get plain JSON (decimals and dates as strings).
    if schema.unknown == INCLUDE:  # free keys kept as sent, the declared ones checked
        loaded = schema.load(payload)
        free = {k: v for k, v in payload.items() if k not in schema.fields}
        return {**free, **schema.dump(loaded)}
    return schema.dump(schema.load(payload, unknown="exclude"))


class Outcome(StrEnum):
    """What becomes of a host event."""

    STORE = "store"  # a new event for an open case: stored, and the case made due
    IGNORE = "ignore"  # a new event for a closed or stopped case: stored as seen, with an audit row
    REPLAY = "replay"  # its id was stored before for the same case and type
    CONFLICT = "conflict"  # its id was stored before for another case or type
    UNKNOWN_CASE = "unknown_case"
    INVALID = "invalid"  # the payload does not suit its type or the case (errors name the field)


@dataclass(frozen=True)
class CaseFacts:
    """What the rule needs to know of the case an event names."""

    id: int
    currency: str
    status: str


@dataclass(frozen=True)
class KnownEvent:
    """The first use of an event id: the case (external id) and type it was stored for."""

    case: str
    type: str


@dataclass(frozen=True)
class Decision:
    """The rule's answer: the outcome, the errors (field -> messages) or the cleaned payload."""

    outcome: Outcome
    errors: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] | None = None


def repeat_outcome(known: KnownEvent, case_external_id: str, kind: str) -> Decision:
    """A known event id: the same event again (replay), or the id used for another (conflict)."""
    if known.case == case_external_id and known.type == kind:
        return Decision(Outcome.REPLAY)
    message = f"Already used for {known.type} on case {known.case}."
    return Decision(Outcome.CONFLICT, {"event_id": [message]})


def unknown_case_message(case_external_id: str) -> str:
    """What an event for a case that does not exist is told."""
    return f"There is no case with the id '{case_external_id}'."


_IN_CASE_CURRENCY = ("payment_received", *event_types.CHARGES)


def currency_problem(kind: str, payload: dict[str, Any], currency: str) -> dict[str, Any] | None:
    """A payment in another currency than the case's; None when the event has no such problem."""
    if kind in _IN_CASE_CURRENCY and payload.get("currency", currency) != currency:
        return {"currency": [f"The case is in {currency}."]}
    return None


def decide_event(
    case: CaseFacts | None,
    case_external_id: str,
    kind: str,
    payload: dict[str, Any],
    known: KnownEvent | None = None,
    clean: dict[str, Any] | ValidationError | None = None,
) -> Decision:
    """The one rule for a host event, in this order: a known id, the case, currency, payload.

    `clean` is the payload as `clean_payload` made it (or the error it raised), for writers
    that clean before they read the case; without it the rule cleans `payload` itself.
    """
    if known is not None:
        return repeat_outcome(known, case_external_id, kind)
    if case is None:
        return Decision(Outcome.UNKNOWN_CASE, {"case": [unknown_case_message(case_external_id)]})
    problem = currency_problem(kind, payload, case.currency)
    if problem is not None:
        return Decision(Outcome.INVALID, problem)
    if clean is None:
        try:
            clean = clean_payload(kind, payload)
        except ValidationError as exc:
            clean = exc
    if isinstance(clean, ValidationError):
        messages = clean.messages
        return Decision(
            Outcome.INVALID, messages if isinstance(messages, dict) else {"_schema": messages}
        )
    return Decision(Outcome.STORE if is_open(case.status) else Outcome.IGNORE, payload=clean)


def api_errors(kind: str, errors: dict[str, Any]) -> dict[str, Any]:
    """The rule's errors named as the API names them: payload fields as `payload.<field>`."""
    if kind in PAYLOADS and "type" not in errors:
        return {f"payload.{k}": v for k, v in errors.items()}
    return errors


def event_row(
    case_id: int | None,
    event_id: str,
    kind: str,
    decision: Decision,
    now: datetime,
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    """The events row of a stored event (an ignored one as applied), as every writer writes it."""
    received = naive_utc(now)
    return {
        "event_id": event_id,
        "case_id": case_id,
        "type": kind,
        "payload": decision.payload,
        "occurred_at": naive_utc(occurred_at) if occurred_at is not None else received,
        "received_at": received,
        "applied_at": received if decision.outcome is Outcome.IGNORE else None,
    }


def ignored_audit(case: CaseRow, kind: str, event_id: str, now: datetime) -> AuditRow:
    """The audit row saying why an event for a closed or stopped case changed nothing."""
    return AuditRow(
        at=naive_utc(now),
        case_id=case.id,
        version_id=case.version_id,
        node_id=case.node_id,
        kind="event_ignored",
        detail={"event": kind, "event_id": event_id, "reason": f"case is {case.status}"},
    )


def open_case(status: Any) -> ColumnElement[bool]:
    """SQL: the case's status is open. OR rather than IN (...), whose list is expanded per run
    while the hot path compiles its statement once."""
    return or_(*(status == value for value in OPEN_STATUSES))


def mark_due(*where: ColumnElement[bool], due: Any = None) -> Update:
    """The statement that marks the cases of `where` due now, if they are open.

    `due` is the moment (naive UTC, `due_now`); without it a bind parameter named "due".
    """
    return (
        update(CaseRow)
        .where(*where, open_case(CaseRow.status))
        .values(due_at=bindparam("due") if due is None else due)
    )


def record_event(
    session: Session,
    case_external_id: str,
    event_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> tuple[EventRow, bool]:
    """Store an event once; returns (row, created). The case becomes due so a tick applies it.

    A repeated id returns the stored event whatever it was for (callers that care call
    `repeat_outcome`); an unknown case raises UnknownCase, an invalid payload ValidationError.
    """
    existing = session.scalar(select(EventRow).where(EventRow.event_id == event_id))
    if existing is not None:
        return existing, False
    case = session.scalar(select(CaseRow).where(CaseRow.external_id == case_external_id))
    facts = None if case is None else CaseFacts(case.id, case.currency, case.status)
    decision = decide_event(facts, case_external_id, kind, payload)
    if decision.outcome is Outcome.UNKNOWN_CASE:
        raise UnknownCase(unknown_case_message(case_external_id))
    if decision.outcome is Outcome.INVALID:
        raise ValidationError(decision.errors)
    assert case is not None
    row = EventRow(**event_row(case.id, event_id, kind, decision, now, occurred_at))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another request stored the same event id a moment ago
        found = session.scalar(select(EventRow).where(EventRow.event_id == event_id))
        assert found is not None
        return found, False
    if decision.outcome is Outcome.IGNORE:
        # No tick will look at this case again: the event is stored as seen (event_row) with
        # the reason it changed nothing, rather than left unapplied for ever.
        session.add(ignored_audit(case, kind, event_id, now))
        return row, True
    session.execute(mark_due(CaseRow.id == case.id, due=due_now(now)))
    return row, True
