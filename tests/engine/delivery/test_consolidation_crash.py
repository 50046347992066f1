"""A combined message is exactly-once per outbox row, also when the dispatcher dies mid-way.

A real dispatcher process sends to a real SMTP server (aiosmtpd) and ends itself at each of the
dispatcher's crash points (`engine/delivery/crash_points.py`); a second process, once the lease
ran out, finishes the work. Every copy that reached the server is the carrier's (its outbox id
is the Message-ID, so a repeat is the same message under the same key) and lists both items;
the absorbed row is never sent on its own and ends 'combined'; the audit chain stays valid.
"""

from __future__ import annotations

import email
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine import Database, Runtime
from engine.storage.audit_chain import verify
from tests.factories import audit_rows, edge, journey_doc, make_case, node, outbox_rows, publish
from tests.factories import template as make_template

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
MESSAGE_ID = re.compile(r"^<mahnwerk\.(\d+)@")

DRIVER = """
import json, sys
from datetime import datetime
from engine import Database, Dispatcher
from engine.delivery import crash_points
from engine.delivery.config import DeliveryConfig

url, profiles, moment, crash = sys.argv[1:]
if crash:
    crash_points.arm(crash, 1)
db = Database(url)
config = DeliveryConfig(profiles=json.loads(profiles), source="test")
dispatcher = Dispatcher(db, config=config, portal_base_url="https://p.example", workers=2)
dispatcher.dispatch(datetime.fromisoformat(moment))
dispatcher.close()
"""


class Mailbox:
    """aiosmtpd handler: keeps (outbox id, plain-text body) per accepted message."""

    def __init__(self) -> None:
        self.received: list[tuple[int, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content)
        found = MESSAGE_ID.search(parsed["Message-ID"] or "")
        assert found, parsed["Message-ID"]
        self.received.append((int(found.group(1)), _text(parsed)))
        return "250 Message accepted for delivery"


def _text(parsed: Message) -> str:
    for part in parsed.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    return ""


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    handler = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def consolidating() -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("remind", "send", channel="email", template="reminder", tone=1),
        node("wait", "wait", mode="duration", days=30),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")]
    body = "{% for item in items %}{{ item.reference }}\n{% endfor %}"
    return journey_doc(
        key="telco",
        jurisdiction="DE",
        locale="de-DE",
        nodes=nodes,
        edges=edges,
        templates={"reminder": make_template(body=body, locale="de-DE")},
        settings={"consolidate": {"window_hours": 24}},
    )


def run_dispatcher(db: Database, port: int, moment: datetime, crash: str = "") -> int:
    profiles = {
        "email": {"provider": "smtp", "host": "127.0.0.1", "port": port, "security": "plain"},
        "sms": {"provider": "sandbox"},
        "letter": {"provider": "sandbox"},
    }
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, db.url, json.dumps(profiles), moment.isoformat(), crash],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 137), done.stderr
    return done.returncode


@pytest.mark.parametrize("point", ["claimed", "accepted", "recording", "recorded"])
def test_a_crash_at_any_point_neither_repeats_nor_loses_an_item(
    db: Database, mailbox: tuple[Mailbox, int], point: str
) -> None:
    box, port = mailbox
    with db.transaction() as session:
        version = publish(session, consolidating(), NOW)
        for ext in ("INV-A", "INV-B"):
            make_case(session, version, NOW, external_id=ext, debtor_id="CUST-1")
    Runtime(db).tick(NOW)

    assert run_dispatcher(db, port, NOW, crash=point) == 137
    # The next dispatcher comes after the 5-minute lease, and once more an hour later.
    run_dispatcher(db, port, NOW + timedelta(minutes=6))
    run_dispatcher(db, port, NOW + timedelta(hours=1))

    with db.transaction() as session:
        rows = outbox_rows(session)
        carrier = next(r for r in rows if r.status == "sent")
        absorbed = next(r for r in rows if r.id != carrier.id)
        assert (absorbed.status, absorbed.combined_into) == ("combined", carrier.id)
        assert len(audit_rows(session, absorbed.case_id, "message_combined")) == 1
        assert len(audit_rows(session, carrier.case_id, "message")) == 1
        assert verify(session.connection()).ok
    # Only the carrier's key ever reached the server, each copy listing both items; a repeat
    # (a crash after the provider accepted it) is the same message under the same key.
    assert box.received, "nothing was sent"
    assert {outbox_id for outbox_id, _ in box.received} == {carrier.id}
    assert all("INV-A" in text and "INV-B" in text for _, text in box.received)
    assert len({text for _, text in box.received}) == 1
    assert len(box.received) <= (2 if point in ("accepted", "recording") else 1)
