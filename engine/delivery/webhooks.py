"""Webhooks out: events derived from the audit trail, signed, delivered with retries, replayable.

The runtime knows nothing of webhooks. `emit_from_audit` reads audit rows (and the journeys'
own webhook outbox rows) after a cursor, maps them to event types and queues one delivery per
subscription, moving the cursor in the same transaction: a crash repeats nothing and loses
nothing. `deliver_webhooks` posts due deliveries, signed with HMAC-SHA256 over
"{timestamp}.{body}" in the header `Mahnwerk-Signature: t=<unix seconds>,v1=<hex>` (the one
scheme, connectors.signing), and retries failures with exponential backoff until MAX_ATTEMPTS.

Targets are the open internet only: a subscription URL whose host is (or resolves to) a private,
loopback, link-local or otherwise non-global address is refused, and every delivery checks each
address again at connect time (so a DNS answer changed after subscribing reaches nothing
internal). An admin allows such targets with `[webhooks] allow_private = true` in the delivery
settings or MAHNWERK_WEBHOOKS_ALLOW_PRIVATE=1. Deliveries follow no redirects and use no proxy
from the environment. The delivery log, which a read token can see, holds only a category
("timeout", "connection failed", "address not allowed", "HTTP 503"); the details go to the
server log.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import re
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from connectors import signing
from engine.core.clock import as_utc, naive_utc
from engine.core.messages import Text, Verbatim, msg
from engine.storage.api_models import WebhookCursorRow, WebhookDeliveryRow, WebhookSubscriptionRow
from engine.storage.db import Database, in_chunks
from engine.storage.models import AuditRow, CaseRow, OutboxRow

EVENT_TYPES = (
    "message.sent",
    "message.delivered",
    "message.bounced",
    "case.paid",
    "case.handed_over",
    "case.held",
    "promise.broken",
    "case.promised",
    "case.disputed",
    "case.closed",
    "case.callback_requested",
    "case.contact_preferences",
    "plan.agreed",
    "plan.instalment_paid",
    "plan.instalment_missed",
    "plan.completed",
    "plan.changed",
    "plan.cancelled",
    "payment.failed",
    "payment.refunded",
    "payment.charged_back",
    "case.fee_charged",
    "case.interest_booked",
    "task.created",
    "task.completed",
    "experiment.finished",
    "journey.published",
    "journey.paused",
    "journey.unpaused",
    "journey.retired",
)
# Applied case events that become webhooks (the portal's actions among them).
EVENT_WEBHOOKS = {
    "message_delivered": "message.delivered",
    "message_bounced": "message.bounced",
    "promise_to_pay": "case.promised",
    "dispute_opened": "case.disputed",
    "case_closed": "case.closed",  # the host or a staff member closed it (not a journey's end)
    "callback_requested": "case.callback_requested",
    "consent_changed": "case.contact_preferences",
    "opted_out": "case.contact_preferences",
    "plan_agreed": "plan.agreed",
    "instalment_paid": "plan.instalment_paid",
    "instalment_missed": "plan.instalment_missed",
    "plan_completed": "plan.completed",
    "plan_changed": "plan.changed",
    "plan_cancelled": "plan.cancelled",
    "payment_failed": "payment.failed",
    "payment_refunded": "payment.refunded",
    "chargeback": "payment.charged_back",
    "fee_charged": "case.fee_charged",
    "interest_booked": "case.interest_booked",
    # A person recorded a task's outcome (engine/intake/tasks.py); the payload names the task.
    "task_done": "task.completed",
    "task_not_reached": "task.completed",
    "task_promise_taken": "task.completed",
    "task_escalated": "task.completed",
}
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

ALLOW_PRIVATE_ENV = "MAHNWERK_WEBHOOKS_ALLOW_PRIVATE"
# What the delivery log says about a failed attempt; the details go to the server log only.
ERROR_TIMEOUT = "timeout"
ERROR_CONNECTION = "connection failed"
ERROR_ADDRESS = "address not allowed"
_HTTP_ERROR = re.compile(r"^HTTP [1-5][0-9][0-9]$")

Sender = Callable[[str, bytes, dict[str, str]], tuple[int | None, str | None]]
log = logging.getLogger(__name__)


class WebhookError(ValueError):
    """A subscription or replay request that cannot be carried out; `words` in any language."""

    def __init__(self, words: Text | str) -> None:
        self.words: Text = Verbatim(words) if isinstance(words, str) else words
        super().__init__(self.words.text())


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
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("The URL must be http:// or https:// with a host.")
    check_target(url, allow_private_targets())
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
        return EVENT_WEBHOOKS.get(str(detail.get("event")))
    if kind == "closed":
        return {"paid": "case.paid", "handed_over": "case.handed_over"}.get(
            str(detail.get("outcome"))
        )
    if kind == "policy" and str(detail.get("action", "")).startswith("hold:"):
        return "case.held"
    if kind == "transition" and detail.get("port") == "broken":
        return "promise.broken"
    if kind == "task":  # the task drain made a task for a person (engine/delivery/tasks.py)
        return "task.created"
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
    for chunk in in_chunks(ids):
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


# -- where deliveries may go ----------------------------------------------------------------------


class TargetRefused(OSError):
    """A delivery target whose address is not on the open internet (and none are allowed)."""


def allow_private_targets(environ: Mapping[str, str] | None = None) -> bool:
    """Whether an admin allows private, loopback and link-local targets: the environment
    (MAHNWERK_WEBHOOKS_ALLOW_PRIVATE=1) or `[webhooks] allow_private = true` in the settings."""
    env = os.environ if environ is None else environ
    flag = env.get(ALLOW_PRIVATE_ENV, "").strip().lower()
    if flag:
        return flag in ("1", "true", "yes", "on")
    from engine.delivery.config import ConfigError, load_delivery_config

    try:
        return load_delivery_config(environ=env).webhooks_allow_private
    except ConfigError:
        return False


def _internal(address: str) -> bool:
    """True for any address that is not globally reachable (private, loopback, link-local,
    shared, reserved, multicast, unspecified), also as an IPv4-mapped IPv6 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host is or resolves to an internal address (every address it resolves
    to is checked). A host that does not resolve now is let through: delivery checks again."""
    if allow_private:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = _resolve(host, port)
    except (OSError, ValueError, UnicodeError):
        return
    if any(_internal(info[4][0]) for info in infos):
        raise WebhookError(
            msg(
                "The URL's host {host} is a private, loopback or link-local address; "
                "webhooks go to the open internet only, unless an admin allows private targets.",
                host=host,
            )
        )


def _connector(allow_private: bool) -> Callable[..., socket.socket]:
    """socket.create_connection that checks every resolved address before connecting to it,
    so the address checked is the address used (no second DNS answer in between)."""

    def create_connection(
        address: tuple[str, int], timeout: Any = None, source_address: Any = None, **_: Any
    ) -> socket.socket:
        host, port = address
        infos = _resolve(host, port)
        if not allow_private:
            internal = [info[4][0] for info in infos if _internal(info[4][0])]
            if internal:
                raise TargetRefused(f"{host} resolves to {', '.join(internal)}")
        error: OSError = OSError(f"{host} resolves to no address")
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(TIMEOUT_SECONDS if timeout is None else timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    return create_connection


def http_send(
    url: str, body: bytes, headers: dict[str, str], allow_private: bool = False
) -> tuple[int | None, str | None]:
    """POST the body; returns (status code, error category). No redirects are followed (a 3xx
    is a failed attempt), no proxy is taken from the environment, internal addresses are refused
    at connect time unless `allow_private`."""
    connection: http.client.HTTPConnection | None = None
    try:
        parts = urlsplit(url)
        https = parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = kind(parts.hostname or "", parts.port, timeout=TIMEOUT_SECONDS)
        connection._create_connection = _connector(allow_private)  # type: ignore[attr-defined]
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        response.read(65536)
    except TargetRefused as exc:
        log.warning("webhook to %s refused: %s", url, exc)
        return None, ERROR_ADDRESS
    except TimeoutError as exc:
        log.warning("webhook to %s timed out: %s", url, exc)
        return None, ERROR_TIMEOUT
    except (OSError, ValueError, UnicodeError, http.client.HTTPException) as exc:
        log.warning("webhook to %s failed: %s: %s", url, type(exc).__name__, exc)
        return None, ERROR_CONNECTION
    finally:
        if connection is not None:
            connection.close()
    return status, None if 200 <= status < 300 else f"HTTP {status}"


def public_delivery_error(error: str | None) -> str | None:
    """What the delivery log shows of a stored error: a category; older rows that kept a raw
    connection error read as "connection failed"."""
    if error is None or error in (ERROR_TIMEOUT, ERROR_CONNECTION, ERROR_ADDRESS):
        return error
    return error if _HTTP_ERROR.match(error) else ERROR_CONNECTION


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
    db: Database,
    now: datetime,
    send: Sender | None = None,
    batch_size: int = 100,
    workers: int = 8,
) -> DeliveryReport:
    """Post every due delivery (each batch claimed, sent in parallel, then recorded); by default
    over HTTP to the open internet only (`allow_private_targets`)."""
    if send is None:
        send = partial(http_send, allow_private=allow_private_targets())
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
