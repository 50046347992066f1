"""Storing events: validated, idempotent by event id, and marking the case due now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.core import event_types
from engine.core.clock import naive_utc
from engine.journey.document import channel_choice
from engine.storage.models import AuditRow, CaseRow, EventRow


class PaymentPayload(Schema):
    amount = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, min_inclusive=False)
    )
    currency = fields.String(required=True, validate=validate.Length(equal=3))


class PromisePayload(Schema):
    date = fields.Date(required=True)
    amount = fields.Decimal(
        load_default=None, places=2, as_string=True, validate=validate.Range(min=0)
    )


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


PAYLOADS: dict[str, type[Schema]] = {
    "payment_received": PaymentPayload,
    "payment_failed": PaymentPayload,
    "promise_to_pay": PromisePayload,
    "contact_changed": ContactPayload,
    "consent_changed": ConsentPayload,
    "opted_out": ChannelPayload,
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
    return schema.dump(schema.load(payload, unknown="exclude"))


def record_event(
    session: Session,
    case_external_id: str,
    event_id: str,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    occurred_at: datetime | None = None,
) -> tuple[EventRow, bool]:
    """Store an event once; returns (row, created). The case becomes due so a tick applies it."""
    existing = session.scalar(select(EventRow).where(EventRow.event_id == event_id))
    if existing is not None:
        return existing, False
    case = session.scalar(select(CaseRow).where(CaseRow.external_id == case_external_id))
    if case is None:
        raise UnknownCase(f"There is no case with the id '{case_external_id}'.")
    if kind == "payment_received" and payload.get("currency", case.currency) != case.currency:
        raise ValidationError({"currency": [f"The case is in {case.currency}."]})
    row = EventRow(
        event_id=event_id,
        case_id=case.id,
        type=kind,
        payload=clean_payload(kind, payload),
        occurred_at=naive_utc(occurred_at or now),
        received_at=naive_utc(now),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another request stored the same event id a moment ago
        found = session.scalar(select(EventRow).where(EventRow.event_id == event_id))
        assert found is not None
        return found, False
    if case.status in ("closed", "stopped"):
        # No tick will look at this case again: note the event as seen and say why it changed
        # nothing, rather than leave it unapplied for ever.
        row.applied_at = naive_utc(now)
        session.add(
            AuditRow(
                at=naive_utc(now),
                case_id=case.id,
                version_id=case.version_id,
                node_id=case.node_id,
                kind="event_ignored",
                detail={"event": kind, "event_id": event_id, "reason": f"case is {case.status}"},
            )
        )
        return row, True
    session.execute(
        update(CaseRow)
        .where(CaseRow.id == case.id, CaseRow.status.in_(("active", "held")))
        .values(due_at=naive_utc(now))
    )
    return row, True
