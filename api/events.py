"""Events from the host system: payments, promises, disputes, contact and consent changes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask_smorest import abort
from marshmallow import ValidationError
from sqlalchemy import select

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.clock import now
from api.idempotency import KEY_DOC, idempotent
from api.problems import flatten
from api.store import write_transaction
from engine import (
    CaseRow,
    EventRow,
    KnownEvent,
    Outcome,
    UnknownCase,
    api_errors,
    bulk_record_events,
    record_host_event,
    repeat_outcome,
)

blp = Blueprint(
    "api_events",
    __name__,
    description=(
        "Events for a case, stored once per event_id and applied on the next tick. Payloads: "
        "payment_received {amount, currency}; payment_failed {amount, currency, reason?}; "
        "promise_to_pay {date, amount?}; "
        "contact_changed {email?, phone?, street?, postcode?, city?}; consent_changed "
        "{channel, granted}; opted_out {channel}; case_closed {reason?}; others {}."
    ),
)
blp.before_request(check_request)


def event_out(row: EventRow, external_id: str, replayed: bool) -> dict[str, Any]:
    """An event as the API shows it."""
    return {
        "event_id": row.event_id,
        "case": external_id,
        "type": row.type,
        "payload": row.payload,
        "occurred_at": row.occurred_at,
        "received_at": row.received_at,
        "applied_at": row.applied_at,
        "replayed": replayed,
    }


@blp.post("/cases/<external_id>/events")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.EventIn())
@blp.response(
    202, schemas.EventOut, description="Stored (or seen before); the next tick applies it."
)
def post_event(data: dict[str, Any], external_id: str) -> Any:
    """Report an event; a repeated event_id returns the stored event (replayed: true)."""
    try:
        with write_transaction() as session:
            row, created = record_host_event(
                session,
                external_id,
                data["event_id"],
                data["type"],
                data["payload"],
                now(),
                data.get("occurred_at"),
            )
            if not created:
                _same_event(session, row, external_id, data["type"])
            return event_out(row, external_id, replayed=not created)
    except UnknownCase as exc:
        abort(404, message=str(exc), kind="unknown-case")
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"payload": exc.messages}
        abort(422, errors=api_errors(data["type"], errors))


@blp.post("/events/bulk")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.BulkEventsIn())
@blp.response(200, schemas.BulkEventsOut)
def bulk_events(data: dict[str, Any]) -> Any:
    """Report up to 10,000 events for any cases; each is decided as a single event POST."""
    # A transaction per 1,000 events, so single events from other clients get in between; with
    # an Idempotency-Key the whole request is one transaction (each chunk a savepoint).
    results = bulk_record_events(write_transaction, data["events"], now())
    return {
        "counts": dict(Counter(r.status for r in results)),
        "results": [{**r.__dict__, "errors": flatten(r.errors)} for r in results],
    }


def _same_event(session: Any, row: EventRow, external_id: str, kind: str) -> None:
    """A repeated event id must name the same case and type; otherwise it is a conflict."""
    case_ext = session.scalar(select(CaseRow.external_id).where(CaseRow.id == row.case_id))
    decision = repeat_outcome(KnownEvent(case_ext, row.type), external_id, kind)
    if decision.outcome is Outcome.CONFLICT:
        abort(
            422,
            message=f"The event id '{row.event_id}' was used for another event.",
            errors=decision.errors,
            kind="event-id-conflict",
        )
