"""Delivery reports: what became of a sent message, on its outbox row and as a case event.

A provider (SMTP bounce processing, an SMS status callback, an email service's webhook) says a
message was delivered, bounced, failed, opened or clicked, or that the debtor opted out. Each
report

- sets the outbox row's `delivery_status` (a later stage never goes back: an 'opened' that
  arrives before its 'delivered' stays 'opened');
- becomes a case event (`message_delivered`, `message_bounced`, ...) through
  `engine.intake.events.record_event`, so a `wait_event` node can wait for it and branch on it. The
  event id is derived from the outbox id and the status, so a repeated report is stored once;
- on a hard bounce, queues the send node's fallback channel once (the dispatcher's rule);
- leaves an audit row.

The caller owns the transaction (like `record_event`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.delivery.dispatcher import fallback_audit, fallback_row, insert_new_messages
from engine.intake.events import record_event
from engine.storage.models import AuditRow, CaseRow, EventRow, OutboxRow

# Report status -> case event type.
EVENT_FOR_STATUS = {
    "delivered": "message_delivered",
    "bounced": "message_bounced",
    "failed": "message_failed",
    "opened": "message_opened",
    "clicked": "message_clicked",
    "opted_out": "opted_out",
}
STATUSES = tuple(EVENT_FOR_STATUS)
# How far along a message is; delivery_status only moves forward (reports come out of order).
_STAGE = {
    "delivered": 1,
    "bounced": 1,
    "failed": 1,
    "opened": 2,
    "clicked": 3,
    "opted_out": 4,
}


class DeliveryReportError(ValueError):
    """The report cannot be used: unknown status, or neither outbox id nor provider id."""


class UnknownMessage(LookupError):
    """No outbox row matches the report's outbox id or provider message id."""


def record_delivery(
    session: Session,
    now: datetime,
    *,
    outbox_id: int | None = None,
    provider_message_id: str | None = None,
    status: str,
    detail: str | None = None,
) -> EventRow | None:
    """Record one delivery report; returns the case event (the stored one for a repeat)."""
    if status not in EVENT_FOR_STATUS:
        raise DeliveryReportError(
            f"Unknown delivery status '{status}'; expected one of {', '.join(STATUSES)}."
        )
    message = _message(session, outbox_id, provider_message_id)
    case = session.get(CaseRow, message.case_id)
    if case is None:  # the foreign key makes this impossible; say so if it ever happens
        raise UnknownMessage(f"Outbox message {message.id} has no case.")
    payload: dict[str, Any] = {"channel": message.channel, "outbox_id": message.id}
    if detail:
        payload["detail"] = detail
    event, created = record_event(
        session,
        case.external_id,
        f"delivery-{message.id}-{status}",
        EVENT_FOR_STATUS[status],
        payload,
        now,
    )
    if not created:  # a repeated report: stored, applied and acted on the first time
        return event
    if _STAGE[status] >= _STAGE.get(message.delivery_status or "", 0):
        message.delivery_status = status
    session.add(_audit(message, now, "delivery_report", status=status, detail=detail))
    if status == "bounced":
        _queue_fallback(session, message, case, now)
    return event


def _message(session: Session, outbox_id: int | None, provider_message_id: str | None) -> OutboxRow:
    if outbox_id is None and not provider_message_id:
        raise DeliveryReportError("A delivery report needs an outbox id or a provider message id.")
    if outbox_id is not None:
        message = session.get(OutboxRow, outbox_id)
        if message is None:
            raise UnknownMessage(f"There is no outbox message {outbox_id}.")
        return message
    message = session.scalar(
        select(OutboxRow)
        .where(OutboxRow.provider_message_id == provider_message_id)
        .order_by(OutboxRow.id)
        .limit(1)
    )
    if message is None:
        raise UnknownMessage(f"No message was sent with the provider id '{provider_message_id}'.")
    return message


def _queue_fallback(session: Session, message: OutboxRow, case: CaseRow, now: datetime) -> None:
    """A hard bounce: try the next hop of the send's fallback chain, once."""
    row = fallback_row(message, case, now)
    if row is None:
        return
    taken = session.scalar(
        select(OutboxRow.id).where(OutboxRow.idempotency_key == row["idempotency_key"])
    )
    if taken is not None:
        return
    insert_new_messages(session, [row])
    session.add(_audit(message, now, "fallback", after="bounced", **fallback_audit(row, "bounced")))


def _audit(message: OutboxRow, now: datetime, kind: str, **detail: Any) -> AuditRow:
    return AuditRow(
        at=naive_utc(now),
        case_id=message.case_id,
        version_id=message.version_id,
        node_id=message.node_id,
        kind=kind,
        detail={
            "outbox_id": message.id,
            "channel": message.channel,
            "template": message.template,
            **detail,
        },
    )
