"""Webhooks out: events derived from the audit trail, signed, delivered with retries, replayable.

The runtime knows nothing of webhooks. `emit_from_audit` reads audit rows (and the journeys'
own webhook outbox rows) after a cursor, maps them to event types and queues one delivery per
subscription, moving the cursor in the same transaction: a crash repeats nothing and loses
nothing. `deliver_webhooks` posts due deliveries, signed with HMAC-SHA256 over
"{timestamp}.{body}" in the header `Mahnwerk-Signature: t=<unix seconds>,v1=<hex>` (the one
scheme, connectors.signing), and retries failures with exponential backoff until MAX_ATTEMPTS.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from connectors import signing
from engine.core.clock import as_utc, naive_utc
from engine.storage.api_models import WebhookCursorRow, WebhookDeliveryRow, WebhookSubscriptionRow
from engine.storage.db import Database
from engine.storage.models import AuditRow, CaseRow, OutboxRow

EVENT_TYPES = (
    "message.sent",
    "message.delivered",
    "message.bounced",
    "case.paid",
    "case.handed_over",
    "case.held",
    "promise.broken",
    "experiment.finished",
    "journey.published",
    "journey.paused",
    "journey.unpaused",
    "journey.retired",
)
# Audit rows without a case that engine.authoring.lifecycle writes for a whole journey.
JOURNEY_EVENTS = {
    "journey_published": "journey.published",
    "journey_paused": "journey.paused",
    "journey_unpaused": "journey.unpaused",
    "journey_retired": "journey.retired",
}
EVENT_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")  # also the journeys' own webhook events
SIGNATURE_HEADER = signing.HEADER
signature = signing.signature  # (secret, unix seconds, body) -> the header value
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)  # a claimed delivery is not claimed again while it is being sent
TIMEOUT_SECONDS = 10.0

Sender = Callable[[str, bytes, dict[str, str]], tuple[int | None, str | None]]


class WebhookError(ValueError):
    """A subscription or replay request that cannot be carried out."""


class SubscriptionInactive(WebhookError):
    """A replay for a deactivated subscription: its endpoint gets nothing more."""


# -- subscriptions --------------------------------------------------------------------------------


def create_subscription(
    session: Session,
    url: str,
    event_types: Iterable[str],
    now: datetime,
    description: str | None = None,
) -> WebhookSubscriptionRow:
    """Subscribe a URL to event types ("*" for all); the row carries its signing secret."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError("The URL must be http:// or https:// with a host.")
    kinds = sorted(set(event_types))
    bad = [k for k in kinds if k != "*" and not EVENT_NAME.match(k)]
    if bad or not kinds:
        raise WebhookError(f"Event types look like 'case.paid' or '*'; got {bad or kinds}.")
    row = WebhookSubscriptionRow(
        url=url,
        secret="whsec_" + secrets.token_urlsafe(24),
        event_types=kinds,
        active=True,
        description=description,
        created_at=naive_utc(now),
    )
    session.add(row)
    session.flush()
    return row


def deactivate_subscription(session: Session, subscription_id: int) -> WebhookSubscriptionRow:
    """Stop a subscription; its delivery log stays."""
    row = session.get(WebhookSubscriptionRow, subscription_id)
    if row is None:
        raise WebhookError(f"There is no subscription {subscription_id}.")
    row.active = False
    session.execute(
        update(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.subscription_id == subscription_id,
            WebhookDeliveryRow.status == "pending",
        )
        .values(status="cancelled")
    )
    return row


# -- audit rows -> events -------------------------------------------------------------------------


def map_audit(kind: str, detail: dict[str, Any], rule: str | None) -> str | None:
    """The webhook event an audit row stands for, if any."""
    if kind == "message" and detail.get("channel") != "webhook":
        return "message.sent"
    if kind == "event":
        return {"message_delivered": "message.delivered", "message_bounced": "message.bounced"}.get(
            str(detail.get("event"))
        )
    if kind == "closed":
        return {"paid": "case.paid", "handed_over": "case.handed_over"}.get(
            str(detail.get("outcome"))
        )
    if kind == "policy" and str(detail.get("action", "")).startswith("hold:"):
        return "case.held"
    if kind == "transition" and detail.get("port") == "broken":
        return "promise.broken"
    if kind == "experiment_finished":
        return "experiment.finished"
    return JOURNEY_EVENTS.get(kind)


@dataclass
class EmitReport:
    """What one emit run queued."""

    events: int = 0
    deliveries: int = 0


def _cursor(session: Session, name: str) -> WebhookCursorRow:
    query = select(WebhookCursorRow).where(WebhookCursorRow.name == name).with_for_update()
    row = session.scalar(query)
    if row is None:
        row = WebhookCursorRow(name=name, last_id=0)
        session.add(row)
        session.flush()
    return row


def _external_ids(session: Session, case_ids: set[int]) -> dict[int, str]:
    ids = [i for i in case_ids if i is not None]
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(CaseRow.id, CaseRow.external_id).where(CaseRow.id.in_(chunk))
        found.update({r.id: r.external_id for r in session.execute(query)})
    return found


def _audit_events(session: Session, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows = list(
        session.scalars(
            select(AuditRow).where(AuditRow.id > after).order_by(AuditRow.id).limit(limit)
        )
    )
    events = []
    for row in rows:
        kind = map_audit(row.kind, row.detail or {}, row.rule)
        if kind is not None:
            data = {"node": row.node_id, "version_id": row.version_id, **(row.detail or {})}
            events.append(_event(f"a{row.id}", kind, row.at, row.case_id, data))
    return events, rows[-1].id if rows else after


def _outbox_events(session: Session, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    rows = list(
        session.scalars(
            select(OutboxRow)
            .where(OutboxRow.id > after, OutboxRow.channel == "webhook")
            .order_by(OutboxRow.id)
            .limit(limit)
        )
    )
    events = []
    for row in rows:
        # The host system hears of it through its subscriptions: the row is handed over.
        row.status, row.recipient = "sent", "host (webhook subscriptions)"
        row.sent_at = row.sent_at or row.created_at
        payload = row.payload or {}
        kind = str(payload.get("event") or "")
        if EVENT_NAME.match(kind):
            data = {"node": row.node_id, "version_id": row.version_id, "note": payload.get("note")}
            events.append(_event(f"o{row.id}", kind, row.created_at, row.case_id, data))
    return events, rows[-1].id if rows else after


def _event(key: str, kind: str, at: datetime, case_id: int | None, data: dict[str, Any]) -> dict:
    return {"id": key, "type": kind, "created_at": at, "case_id": case_id, "data": data}


def emit_from_audit(db: Database, now: datetime, batch_size: int = 2000) -> EmitReport:
    """Queue deliveries for new audit rows and webhook outbox rows; each batch one transaction."""
    report = EmitReport()
    for name, read in (("audit", _audit_events), ("outbox_webhook", _outbox_events)):
        while True:
            with db.transaction() as session:
                cursor = _cursor(session, name)
                events, last = read(session, cursor.last_id, batch_size)
                if last == cursor.last_id:
                    break
                report.events += len(events)
                report.deliveries += _queue(session, events, now)
                cursor.last_id = last
    return report


def _queue(session: Session, events: list[dict[str, Any]], now: datetime) -> int:
    if not events:
        return 0
    subscriptions = list(
        session.scalars(select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.active))
    )
    cases = _external_ids(session, {e["case_id"] for e in events})
    rows = []
    for event in events:
        body = _body(event, cases.get(event["case_id"]))
        for sub in subscriptions:
            if "*" in sub.event_types or event["type"] in sub.event_types:
                rows.append(
                    {
                        "subscription_id": sub.id,
                        "event_key": event["id"],
                        "event_type": event["type"],
                        "case_id": event["case_id"],
                        "body": body,
                        "status": "pending",
                        "attempts": 0,
                        "next_attempt_at": naive_utc(now),
                        "created_at": naive_utc(now),
                    }
                )
    if rows:
        session.execute(insert(WebhookDeliveryRow), rows)
    return len(rows)


def _body(event: dict[str, Any], external_id: str | None) -> str:
    body = {
        "id": event["id"],
        "type": event["type"],
        "created_at": as_utc(event["created_at"]).isoformat(),
        "case": external_id,
        "data": event["data"],
    }
    return json.dumps(body, default=str, sort_keys=True, separators=(",", ":"))


# -- signing and delivery -------------------------------------------------------------------------


def verify_signature(
    secret: str, header: str | None, body: bytes, now: datetime, tolerance: int = signing.TOLERANCE
) -> bool:
    """What a receiver checks (connectors.signing.verify): a v1 signature of this body, made
    within `tolerance` seconds of `now`."""
    return signing.verify(secret, body, header, now, tolerance)


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 ... minutes after each failure, at most 6 hours."""
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=6))


def http_send(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
    """POST the body; returns (status code, error text)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]


@dataclass
class DeliveryReport:
    """What one delivery run did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


def _claim(session: Session, now: datetime, limit: int) -> list[tuple[Any, Any]]:
    query = (
        select(WebhookDeliveryRow, WebhookSubscriptionRow)
        .join(WebhookSubscriptionRow)
        .where(
            WebhookDeliveryRow.status == "pending",
            WebhookDeliveryRow.next_attempt_at <= naive_utc(now),
        )
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=WebhookDeliveryRow)
    claimed = [(d, s) for d, s in session.execute(query).all()]
    if claimed:
        session.execute(
            update(WebhookDeliveryRow),
            [{"id": d.id, "next_attempt_at": naive_utc(now + LEASE)} for d, _ in claimed],
        )
    return claimed


def _headers(delivery: Any, subscription: Any, now: datetime) -> dict[str, str]:
    body = delivery.body.encode()
    return {
        "Content-Type": "application/json",
        "User-Agent": "Mahnwerk-Webhooks/1",
        "Mahnwerk-Event": delivery.event_type,
        "Mahnwerk-Delivery": str(delivery.id),
        SIGNATURE_HEADER: signing.sign(subscription.secret, body, now),
    }


def _outcome(delivery: Any, result: tuple[int | None, str | None], now: datetime) -> dict:
    status_code, error = result
    attempts = delivery.attempts + 1
    values: dict[str, Any] = {
        "id": delivery.id,
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error,
    }
    if status_code is not None and 200 <= status_code < 300:
        return {**values, "status": "delivered", "delivered_at": naive_utc(now), "last_error": None}
    if attempts >= MAX_ATTEMPTS:
        return {**values, "status": "failed"}
    return {**values, "status": "pending", "next_attempt_at": naive_utc(now + backoff(attempts))}


def deliver_webhooks(
    db: Database, now: datetime, send: Sender = http_send, batch_size: int = 100, workers: int = 8
) -> DeliveryReport:
    """Post every due delivery (each batch claimed, sent in parallel, then recorded)."""
    report = DeliveryReport()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while True:
            with db.transaction() as session:
                claimed = _claim(session, now, batch_size)
            if not claimed:
                return report
            results = list(
                pool.map(
                    lambda pair: send(
                        pair[1].url, pair[0].body.encode(), _headers(pair[0], pair[1], now)
                    ),
                    claimed,
                )
            )
            outcomes = [_outcome(d, r, now) for (d, _), r in zip(claimed, results, strict=True)]
            with db.transaction() as session:
                session.execute(update(WebhookDeliveryRow), outcomes)
            for outcome in outcomes:
                status = outcome["status"]
                report.delivered += status == "delivered"
                report.failed += status == "failed"
                report.retried += status == "pending"


def replay_delivery(session: Session, delivery_id: int, now: datetime) -> WebhookDeliveryRow:
    """Send a delivery again (delivered or failed ones too), with a fresh retry budget."""
    row = session.get(WebhookDeliveryRow, delivery_id)
    if row is None:
        raise WebhookError(f"There is no delivery {delivery_id}.")
    subscription = session.get(WebhookSubscriptionRow, row.subscription_id)
    if subscription is None or not subscription.active:
        raise SubscriptionInactive(
            f"The subscription of delivery {delivery_id} is deactivated; it is not sent again."
        )
    row.status, row.attempts, row.next_attempt_at = "pending", 0, naive_utc(now)
    session.flush()
    return row


def deliveries(
    session: Session, subscription_id: int, status: str | None = None, limit: int = 100
) -> list[WebhookDeliveryRow]:
    """The delivery log of a subscription, newest first."""
    query = (
        select(WebhookDeliveryRow)
        .where(WebhookDeliveryRow.subscription_id == subscription_id)
        .order_by(WebhookDeliveryRow.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDeliveryRow.status == status)
    return list(session.scalars(query))
