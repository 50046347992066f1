"""Webhooks: derived from the audit trail, signed, retried with backoff, logged, replayable."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database, VirtualClock, record_event
from engine.delivery.webhooks import (
    MAX_ATTEMPTS,
    SubscriptionInactive,
    backoff,
    create_subscription,
    deactivate_subscription,
    deliver_webhooks,
    emit_from_audit,
    map_audit,
    replay_delivery,
    signature,
    verify_signature,
)
from engine.run.runtime import Runtime
from engine.storage.api_models import WebhookDeliveryRow
from engine.storage.models import VersionRow
from tests.factories import edge, journey_doc, make_case, node, publish


class Receiver:
    """A host system on 127.0.0.1 that checks every signature; can be told to fail."""

    def __init__(self, clock: VirtualClock) -> None:
        self.secret = ""
        self.fail_next = 0
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("Mahnwerk-Signature")
                if not verify_signature(receiver.secret, header, body, clock.now):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(503)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver(clock: VirtualClock) -> Iterator[Receiver]:
    """The local receiver, shut down after the test."""
    found = Receiver(clock)
    yield found
    found.server.shutdown()
    found.server.server_close()


def _subscribe(db: Database, receiver: Receiver, now: datetime, *kinds: str) -> int:
    with db.transaction() as session:
        row = create_subscription(session, receiver.url, kinds, now)
        receiver.secret = row.secret
        return row.id


def _paid_case(db: Database, published: VersionRow, clock: VirtualClock) -> None:
    with db.transaction() as session:
        make_case(session, published, clock.now, external_id="INV-9")
    runtime = Runtime(db)
    runtime.tick(clock.now)
    with db.transaction() as session:
        payload = {"amount": "250.00", "currency": "EUR"}
        record_event(session, "INV-9", "pay-1", "payment_received", payload, clock.now)
    runtime.tick(clock.now)


def test_a_paid_case_reaches_the_host_signed(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    assert [(e["type"], e["case"]) for e in receiver.received] == [("case.paid", "INV-9")]


def test_emitting_twice_queues_nothing_new(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "*")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    assert emit_from_audit(db, clock.now).deliveries == 0


def test_only_subscribed_types_are_queued(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "message.bounced")
    _paid_case(db, published, clock)
    assert emit_from_audit(db, clock.now).deliveries == 0


def test_a_failure_is_retried_with_backoff(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    receiver.fail_next = 1
    first = deliver_webhooks(db, clock.now)
    too_soon = deliver_webhooks(db, clock.now + backoff(1) - timedelta(seconds=1))
    later = deliver_webhooks(db, clock.now + backoff(1))
    assert (first.retried, too_soon.delivered, later.delivered) == (1, 0, 1)


def test_the_log_keeps_the_last_answer(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    receiver.fail_next = 1
    deliver_webhooks(db, clock.now)
    with db.transaction() as session:
        row = session.scalars(select(WebhookDeliveryRow)).one()
        assert (row.status, row.attempts, row.last_status_code) == ("pending", 1, 503)


def test_a_delivery_fails_for_good_after_max_attempts(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    receiver.fail_next = MAX_ATTEMPTS
    reports = [deliver_webhooks(db, clock.now + timedelta(days=i)) for i in range(MAX_ATTEMPTS)]
    assert reports[-1].failed == 1 and receiver.received == []


def test_a_replay_sends_again(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    with db.transaction() as session:
        replay_delivery(session, session.scalars(select(WebhookDeliveryRow.id)).one(), clock.now)
    deliver_webhooks(db, clock.now)
    assert len(receiver.received) == 2


def test_a_replay_for_a_deactivated_subscription_is_refused(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    subscription = _subscribe(db, receiver, clock.now, "case.paid")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    with db.transaction() as session:
        deactivate_subscription(session, subscription)
    with db.transaction() as session, pytest.raises(SubscriptionInactive, match="deactivated"):
        replay_delivery(session, session.scalars(select(WebhookDeliveryRow.id)).one(), clock.now)
    deliver_webhooks(db, clock.now)
    assert len(receiver.received) == 1


def test_the_journeys_own_webhook_node_reaches_the_host(
    db: Database, clock: VirtualClock, receiver: Receiver
) -> None:
    doc = journey_doc(
        nodes=[
            node("start", "start"),
            node("agency", "webhook", event="case.handover", note="Inkasso AG"),
            node("done", "end", outcome="handed_over"),
        ],
        edges=[edge("start", "agency"), edge("agency", "done")],
        templates={},
    )
    with db.transaction() as session:
        version = publish(session, doc, clock.now)
        make_case(session, version, clock.now, external_id="INV-7")
    _subscribe(db, receiver, clock.now, "case.handover", "case.handed_over")
    Runtime(db).tick(clock.now)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    got = sorted((e["type"], e["data"].get("note")) for e in receiver.received)
    assert got == [("case.handed_over", None), ("case.handover", "Inkasso AG")]


def test_a_wrong_secret_does_not_verify(clock: VirtualClock) -> None:
    header = signature("secret-a", int(clock.now.timestamp()), b"{}")
    assert not verify_signature("secret-b", header, b"{}", clock.now)


def test_an_old_signature_does_not_verify(clock: VirtualClock) -> None:
    header = signature("s", int(clock.now.timestamp()), b"{}")
    assert not verify_signature("s", header, b"{}", clock.now + timedelta(minutes=10))


@pytest.mark.parametrize(
    ("kind", "detail", "expected"),
    [
        ("message", {"channel": "email"}, "message.sent"),
        ("message", {"channel": "webhook"}, None),
        ("event", {"event": "message_bounced"}, "message.bounced"),
        ("closed", {"outcome": "handed_over"}, "case.handed_over"),
        ("policy", {"action": "hold:dispute"}, "case.held"),
        ("transition", {"port": "broken"}, "promise.broken"),
        ("transition", {"port": "next"}, None),
    ],
)
def test_audit_kinds_map_to_event_types(
    kind: str, detail: dict[str, Any], expected: str | None
) -> None:
    assert map_audit(kind, detail, None) == expected


def test_the_cursor_reads_only_new_rows(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)  # no subscription yet: nothing queued, cursor moves on
    _subscribe(db, receiver, clock.now, "*")
    assert emit_from_audit(db, clock.now).deliveries == 0
