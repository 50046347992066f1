"""Webhooks: derived from the audit trail, signed, retried with backoff, logged, replayable."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database, VirtualClock, record_event
from engine.delivery.config import ConfigError, load_delivery_config
from engine.delivery.webhooks import (
    ALLOW_PRIVATE_ENV,
    MAX_ATTEMPTS,
    SubscriptionInactive,
    WebhookError,
    allow_private_targets,
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
        self.redirect_to: str | None = None
        self.received: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                receiver.requests.append(("GET", self.path))
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                receiver.requests.append(("POST", self.path))
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("Mahnwerk-Signature")
                if receiver.redirect_to is not None:
                    self.send_response(303)
                    self.send_header("Location", receiver.redirect_to)
                elif not verify_signature(receiver.secret, header, body, clock.now):
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
def receiver(clock: VirtualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """The local receiver, shut down after the test; 127.0.0.1 is allowed as a target."""
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")
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


# -- targets: the open internet only, unless an admin allows private ones -----------------------


def _delivery(db: Database) -> WebhookDeliveryRow:
    with db.transaction() as session:
        row = session.scalars(select(WebhookDeliveryRow)).one()
        session.expunge(row)
        return row


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[fe80::1]/hooks",
        "http://0.0.0.0/",
    ],
)
def test_a_subscription_to_an_internal_address_is_refused(
    db: Database, clock: VirtualClock, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    with db.transaction() as session, pytest.raises(WebhookError, match="private, loopback"):
        create_subscription(session, url, ["*"], clock.now)


def test_every_resolved_address_is_checked(
    db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host with one public and one private address is refused."""
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    real = socket.getaddrinfo

    def two_addresses(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mixed.example":
            return real(host, port, *args, **kwargs)
        stream = (socket.AF_INET, socket.SOCK_STREAM, 6, "")
        return [(*stream, ("93.184.216.34", port)), (*stream, ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with db.transaction() as session, pytest.raises(WebhookError, match=r"mixed\.example"):
        create_subscription(session, "https://mixed.example/hooks", ["*"], clock.now)


def test_an_admin_allows_private_targets(
    db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    settings = tmp_path / "mahnwerk.toml"
    settings.write_text("[webhooks]\nallow_private = true\n", encoding="utf-8")
    monkeypatch.setenv("MAHNWERK_CONFIG", str(settings))
    assert allow_private_targets()
    with db.transaction() as session:
        create_subscription(session, "http://127.0.0.1:9/hooks", ["*"], clock.now)
    assert not allow_private_targets({ALLOW_PRIVATE_ENV: "0", "MAHNWERK_CONFIG": str(settings)})


def test_the_webhooks_setting_is_checked(tmp_path: Any) -> None:
    settings = tmp_path / "mahnwerk.toml"
    settings.write_text('[webhooks]\nallow_private = "yes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[webhooks\] allow_private must be true or false"):
        load_delivery_config(settings, environ={})


def test_the_address_is_checked_again_when_connecting(
    db: Database,
    published: VersionRow,
    clock: VirtualClock,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: the host was public when subscribed, now it answers 127.0.0.1."""
    port = receiver.server.server_address[1]
    answers = {"rebind.example": "93.184.216.34"}
    real = socket.getaddrinfo

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    monkeypatch.delenv(ALLOW_PRIVATE_ENV)
    with db.transaction() as session:
        row = create_subscription(session, f"http://rebind.example:{port}/hooks", ["*"], clock.now)
        receiver.secret = row.secret
    answers["rebind.example"] = "127.0.0.1"
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    assert (receiver.requests, _delivery(db).last_error) == ([], "address not allowed")
    monkeypatch.setenv(ALLOW_PRIVATE_ENV, "1")  # allowed, the checked address is the one used
    deliver_webhooks(db, clock.now + backoff(1))
    assert [e["type"] for e in receiver.received] == ["case.paid"]


def test_redirects_are_not_followed(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    _subscribe(db, receiver, clock.now, "case.paid")
    receiver.redirect_to = receiver.url.replace("/hooks", "/internal")
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    row = _delivery(db)
    assert receiver.requests == [("POST", "/hooks")]
    assert (row.status, row.last_status_code, row.last_error) == ("pending", 303, "HTTP 303")


def test_proxy_variables_are_not_honoured(
    db: Database,
    published: VersionRow,
    clock: VirtualClock,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = Receiver(clock)
    try:
        for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
            monkeypatch.setenv(name, proxy.url.removesuffix("/hooks"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        _subscribe(db, receiver, clock.now, "case.paid")
        _paid_case(db, published, clock)
        emit_from_audit(db, clock.now)
        deliver_webhooks(db, clock.now)
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()
    assert (proxy.requests, len(receiver.received)) == ([], 1)


def test_the_log_shows_no_raw_connection_error(
    db: Database, published: VersionRow, clock: VirtualClock, receiver: Receiver
) -> None:
    """A closed port and an open one that answers nothing read alike: 'connection failed'."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with db.transaction() as session:
        create_subscription(session, f"http://127.0.0.1:{port}/hooks", ["case.paid"], clock.now)
    _paid_case(db, published, clock)
    emit_from_audit(db, clock.now)
    deliver_webhooks(db, clock.now)
    row = _delivery(db)
    assert (row.status, row.last_status_code, row.last_error) == (
        "pending",
        None,
        "connection failed",
    )
