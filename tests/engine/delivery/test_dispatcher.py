"""The whole dispatcher against real local servers: aiosmtpd for email, a Twilio-like HTTP API.

Cases walk a journey on the runtime, the dispatcher takes their messages through the guard,
renders them and hands them to the real SMTP and Twilio connectors. The fault test kills a
dispatcher between the provider's acceptance and the status write and restarts it.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import update

from engine import Database, Dispatcher, Runtime
from engine.delivery.config import DeliveryConfig
from engine.delivery.dispatcher import LEASE
from engine.storage.models import CaseRow, OutboxRow, VersionRow
from tests.factories import (
    audit_rows,
    edge,
    journey_doc,
    make_case,
    node,
    outbox_rows,
    publish,
    template,
)

ROOT = Path(__file__).resolve().parents[3]
PORTAL = "https://pay.example.org/p"
ACCOUNT, TOKEN = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token"
PHONE_DE = "+49 151 23456789"
MONDAY_MORNING = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Berlin


# -- a Twilio-compatible Messages API ---------------------------------------------------------


@dataclass
class TwilioServer:
    """Create-Message endpoint on 127.0.0.1 that honours I-Twilio-Idempotency-Token."""

    base_url: str = ""
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)  # sid -> message
    by_token: dict[str, str] = field(default_factory=dict)  # idempotency token -> sid
    posts: list[str] = field(default_factory=list)  # the token of every POST, in order
    # Scripted refusals by To number: (HTTP status, JSON body).
    refuse: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def created(self, token: str) -> list[dict[str, Any]]:
        """The messages created for one idempotency token (an outbox id)."""
        return [m for m in self.messages.values() if m["token"] == token]

    def answer(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        expected = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if headers.get("Authorization") != f"Basic {expected}":
            return 401, {"code": 20003, "message": "Authenticate"}
        if path != f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        form = dict(urllib.parse.parse_qsl(body.decode()))
        token = headers.get("I-Twilio-Idempotency-Token", "")
        with self.lock:
            self.posts.append(token)
            if token and token in self.by_token:  # a repeat: the first answer, nothing new
                return 201, self.messages[self.by_token[token]]["resource"]
            if form.get("To") in self.refuse:
                return self.refuse[form["To"]]
            sid = f"SM{uuid.uuid4().hex}"
            resource = {
                "sid": sid,
                "status": "queued",
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "num_segments": "1",
            }
            self.messages[sid] = {"token": token, "form": form, "resource": resource}
            if token:
                self.by_token[token] = sid
            return 201, resource


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    """A running Twilio-compatible server."""
    fake = TwilioServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, payload = fake.answer(self.path, self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


# -- an SMTP server --------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        found = []
        for _, _, content in self.messages:
            for line in content.decode().splitlines():
                if line.lower().startswith("message-id:"):
                    found.append(line.split(":", 1)[1].strip())
        return found


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """aiosmtpd on 127.0.0.1 (plain SMTP) and its port."""
    handler = Mailbox()
    with socket.socket() as probe:  # aiosmtpd must be told its port; ask the OS for a free one
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


# -- the dispatcher with real connector profiles ------------------------------------------------


def profiles(smtp_port: int, twilio_url: str) -> dict[str, dict[str, Any]]:
    """Connector profiles as load_delivery_config makes them (secrets already merged in)."""
    return {
        "email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_port, "security": "plain"},
        "sms": {
            "provider": "twilio",
            "account_sid": ACCOUNT,
            "auth_token": TOKEN,
            "from_number": "+4930123456",
            "base_url": twilio_url,
            "timeout": 5,
            "price_per_segment": "0.075",
        },
        "letter": {"provider": "sandbox"},
    }


@pytest.fixture
def make_dispatcher(
    db: Database, mailbox: tuple[Mailbox, int], twilio: TwilioServer
) -> Iterator[Callable[..., Dispatcher]]:
    """Build dispatchers on the real SMTP and Twilio profiles; closed after the test."""
    made: list[Dispatcher] = []

    def build(policy: dict[str, dict[str, Any]] | None = None, **kw: Any) -> Dispatcher:
        config = DeliveryConfig(
            profiles=profiles(mailbox[1], twilio.base_url),
            policy_overrides=policy or {},
            source="test",
        )
        dispatcher = Dispatcher(db, config=config, portal_base_url=PORTAL, **kw)
        made.append(dispatcher)
        return dispatcher

    yield build
    for dispatcher in made:
        dispatcher.close()


def send_doc(
    channel: str = "email", body: str = "Please pay {{ format_money(amount_open) }}.", **send: Any
) -> dict[str, Any]:
    """start -> send one message -> wait 3 days -> end."""
    return journey_doc(
        key=f"dispatch-{channel}",
        templates={"reminder": template(channel=channel, body=body, locale="en-GB")},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel=channel, template="reminder", **send),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def queue(db: Database, now: datetime, doc: dict[str, Any], **case: Any) -> int:
    """Publish the journey, open a case and tick, so its message waits in the outbox."""
    with db.transaction() as session:
        version: VersionRow = publish(session, doc, now)
        case_id = make_case(session, version, now, **case).id
    Runtime(db).tick(now)
    return case_id


def messages(db: Database) -> list[OutboxRow]:
    with db.transaction() as session:
        return outbox_rows(session)


def audits(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return [row.detail for row in audit_rows(session, kind=kind)]


def set_case(db: Database, case_id: int, **values: Any) -> None:
    with db.transaction() as session:
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(**values))


# -- sending -----------------------------------------------------------------------------------


def test_an_email_goes_out_over_smtp_and_the_row_is_sent(db, mailbox, make_dispatcher) -> None:
    queue(db, MONDAY_MORNING, send_doc())

    report = make_dispatcher().dispatch(MONDAY_MORNING)

    row = messages(db)[0]
    assert (report.sent, row.status) == (1, "sent")
    assert row.sent_at == MONDAY_MORNING.replace(tzinfo=None)
    assert mailbox[0].message_ids() == [row.provider_message_id]
    assert row.provider_message_id == f"<mahnwerk.{row.id}@mahnwerk.example>"
    assert "Please pay" in mailbox[0].messages[0][2].decode()


def test_an_sms_goes_to_the_twilio_api_with_the_outbox_id_as_key(
    db, twilio, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE, email=None)

    make_dispatcher().dispatch(MONDAY_MORNING)

    row = messages(db)[0]
    sent = twilio.created(str(row.id))
    assert (row.status, len(sent), sent[0]["form"]["To"]) == ("sent", 1, "+4915123456789")
    assert row.provider_message_id == sent[0]["resource"]["sid"]
    assert (row.segments, str(row.cost), row.recipient) == (1, "0.0750", "+4915123456789")


def test_with_a_public_url_an_sms_asks_for_receipts_at_the_hook(
    db, twilio, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE, email=None)

    make_dispatcher(public_url="https://mahnwerk.example.com/").dispatch(MONDAY_MORNING)

    (sent,) = twilio.created(str(messages(db)[0].id))
    assert sent["form"]["StatusCallback"] == "https://mahnwerk.example.com/hooks/sms/twilio"


def test_without_a_public_url_an_sms_names_no_callback(
    db, twilio, make_dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MAHNWERK_PUBLIC_URL", raising=False)
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE, email=None)

    make_dispatcher().dispatch(MONDAY_MORNING)

    (sent,) = twilio.created(str(messages(db)[0].id))
    assert "StatusCallback" not in sent["form"]


def test_many_batches_are_pipelined_and_each_message_goes_once(db, twilio, make_dispatcher) -> None:
    for _ in range(7):
        queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE, email=None)

    report = make_dispatcher(batch_size=2, workers=3).dispatch(MONDAY_MORNING)

    rows = messages(db)
    assert report.sent == 7 and {r.status for r in rows} == {"sent"}
    assert sorted(twilio.posts) == sorted(str(r.id) for r in rows)


def test_a_sent_message_is_sent_once(db, twilio, make_dispatcher) -> None:
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)
    dispatcher = make_dispatcher()

    dispatcher.dispatch(MONDAY_MORNING)
    later = dispatcher.dispatch(MONDAY_MORNING + timedelta(hours=1))

    assert (later.sent, len(twilio.posts)) == (0, 1)


# -- the guard ---------------------------------------------------------------------------------


def test_a_message_at_night_waits_until_eight_local_time_and_goes_then(
    db, mailbox, make_dispatcher
) -> None:
    night = datetime(2026, 3, 2, 22, 30, tzinfo=UTC)  # Monday 23:30 in Berlin
    queue(db, night, send_doc())
    dispatcher = make_dispatcher()

    deferred = dispatcher.dispatch(night)
    row = messages(db)[0]
    early = dispatcher.dispatch(datetime(2026, 3, 3, 6, 59, tzinfo=UTC))
    sent = dispatcher.dispatch(datetime(2026, 3, 3, 7, 0, tzinfo=UTC))  # Tuesday 08:00 Berlin

    assert (deferred.deferred, row.status, row.reason) == (1, "pending", "deferred:quiet_hours")
    assert row.not_before == datetime(2026, 3, 3, 7, 0)
    assert (early.sent, early.deferred, sent.sent) == (0, 0, 1)
    assert len(mailbox[0].messages) == 1 and messages(db)[0].status == "sent"
    (audit,) = audits(db, "deferral")
    assert audit["reason"] == "quiet_hours" and "2026-03-03T08:00+01:00" in audit["message"]


def test_a_message_on_sunday_waits_until_monday_morning(db, mailbox, make_dispatcher) -> None:
    sunday = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    queue(db, sunday, send_doc())
    dispatcher = make_dispatcher()

    dispatcher.dispatch(sunday)
    row = messages(db)[0]
    dispatcher.dispatch(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))

    assert (row.reason, row.not_before) == ("deferred:sunday", datetime(2026, 3, 2, 7, 0))
    assert messages(db)[0].status == "sent" and len(mailbox[0].messages) == 1


def test_a_message_on_a_public_holiday_waits_for_the_next_working_day(
    db, mailbox, make_dispatcher
) -> None:
    may_day = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)  # Friday, 1 May (Labour Day)
    queue(db, may_day, send_doc())

    make_dispatcher().dispatch(may_day)

    row = messages(db)[0]
    # Saturday 08:00 in Berlin (summer time): Saturdays are allowed in Germany.
    assert (row.reason, row.not_before) == ("deferred:public_holiday", datetime(2026, 5, 2, 6, 0))
    (audit,) = audits(db, "deferral")
    assert "public holiday in DE, Labor Day" in audit["message"] and mailbox[0].messages == []


def test_an_opted_out_channel_is_suppressed_with_the_reason_and_the_fallback_goes(
    db, mailbox, twilio, make_dispatcher
) -> None:
    case_id = queue(db, MONDAY_MORNING, send_doc(fallback_channel="sms"), phone=PHONE_DE)
    set_case(db, case_id, contact_prefs={"opted_out": ["email"]})
    dispatcher = make_dispatcher()

    first = dispatcher.dispatch(MONDAY_MORNING)
    second = dispatcher.dispatch(MONDAY_MORNING)

    email, sms = messages(db)
    assert (first.suppressed, email.status, email.reason) == (1, "suppressed", "opted_out")
    assert (second.sent, sms.channel, sms.status) == (1, "sms", "sent")
    assert sms.idempotency_key == f"{email.idempotency_key}-fb"
    assert mailbox[0].messages == [] and len(twilio.created(str(sms.id))) == 1
    (suppression,) = audits(db, "suppression")
    assert suppression["reason"] == "opted_out"
    assert suppression["message"] == "The debtor opted out of contact by email."
    assert audits(db, "fallback") == [
        {
            "outbox_id": email.id,
            "channel": "email",
            "template": "reminder",
            "fallback": "sms",
            "hop": 1,
            "reason": "opted_out",
            "skipped": [],
        }
    ]


def test_an_sms_without_consent_in_the_us_is_suppressed(db, twilio, make_dispatcher) -> None:
    afternoon = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 13:00 in New York
    queue(db, afternoon, send_doc("sms"), country="US", currency="USD", phone="+1 415 555 2671")

    report = make_dispatcher().dispatch(afternoon)

    row = messages(db)[0]
    assert (report.suppressed, row.status, row.reason) == (1, "suppressed", "no_consent")
    assert twilio.posts == []
    (suppression,) = audits(db, "suppression")
    assert suppression["message"] == "No consent on record for contact by sms."


def test_an_sms_with_consent_in_the_us_is_sent(db, twilio, make_dispatcher) -> None:
    afternoon = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    case_id = queue(
        db, afternoon, send_doc("sms"), country="US", currency="USD", phone="+1 415 555 2671"
    )
    set_case(db, case_id, contact_prefs={"consent": {"sms": True}})

    make_dispatcher().dispatch(afternoon)

    assert messages(db)[0].status == "sent" and len(twilio.messages) == 1


def test_a_policy_section_for_the_debtors_country_tightens_the_guard(
    db, twilio, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)  # journey bound to no country
    dispatcher = make_dispatcher(policy={"DE": {"channels_requiring_consent": ["sms"]}})

    report = dispatcher.dispatch(MONDAY_MORNING)

    assert (report.suppressed, messages(db)[0].reason, twilio.posts) == (1, "no_consent", [])


def test_a_message_of_a_closed_case_is_suppressed(db, mailbox, make_dispatcher) -> None:
    case_id = queue(db, MONDAY_MORNING, send_doc())
    set_case(db, case_id, status="closed", outcome="paid")

    report = make_dispatcher().dispatch(MONDAY_MORNING)

    row = messages(db)[0]
    assert (report.suppressed, row.status, row.reason) == (1, "suppressed", "case_closed")
    assert mailbox[0].messages == []
    assert audits(db, "suppression")[0]["message"] == "The case is closed (paid)."


# -- provider failures ---------------------------------------------------------------------


def test_a_5xx_retries_with_backoff_then_dead_letters_and_retry_dead_sends_it(
    db, twilio, make_dispatcher
) -> None:
    twilio.refuse["+4915123456789"] = (503, {"code": 20503, "message": "Service Unavailable"})
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)
    dispatcher = make_dispatcher(max_attempts=3)
    t0 = MONDAY_MORNING

    first = dispatcher.dispatch(t0)
    after_first = messages(db)[0]
    too_early = dispatcher.dispatch(t0 + timedelta(seconds=59))
    second = dispatcher.dispatch(t0 + timedelta(minutes=1))
    after_second = messages(db)[0]
    third = dispatcher.dispatch(t0 + timedelta(minutes=5))
    dead = messages(db)[0]

    assert (first.retried, after_first.not_before) == (1, datetime(2026, 3, 2, 8, 1))
    assert (too_early.retried, too_early.sent) == (0, 0)
    assert (second.retried, after_second.not_before) == (1, datetime(2026, 3, 2, 8, 5))
    assert (third.dead, dead.status, dead.attempts) == (1, "dead", 3)
    assert "HTTP 503" in (dead.reason or "") and "Service Unavailable" in (dead.reason or "")
    assert len(twilio.posts) == 3 and twilio.messages == {}
    assert [a["attempt"] for a in audits(db, "retry")] == [1, 2]
    assert audits(db, "dead_letter")[0]["attempts"] == 3

    del twilio.refuse["+4915123456789"]
    later = t0 + timedelta(hours=2)
    assert dispatcher.retry_dead(dead.id, later) is True
    assert dispatcher.retry_dead(dead.id, later) is False  # pending now, not dead
    revived = dispatcher.dispatch(later)

    row = messages(db)[0]
    assert (revived.sent, row.status, row.reason) == (1, "sent", None)
    assert len(twilio.created(str(row.id))) == 1
    assert audits(db, "retry_requested") == [{"outbox_id": row.id}]


def test_a_4xx_fails_the_message_with_the_providers_reason(db, twilio, make_dispatcher) -> None:
    twilio.refuse["+4915123456789"] = (
        400,
        {"code": 21610, "message": "Attempt to send to unsubscribed recipient"},
    )
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)
    dispatcher = make_dispatcher()

    report = dispatcher.dispatch(MONDAY_MORNING)
    again = dispatcher.dispatch(MONDAY_MORNING + timedelta(hours=1))

    row = messages(db)[0]
    assert (report.failed, row.status, again.sent, len(twilio.posts)) == (1, "failed", 0, 1)
    assert row.reason == (
        "SMS provider refused the message (HTTP 400, error 21610): "
        "Attempt to send to unsubscribed recipient"
    )
    assert audits(db, "message_failed")[0]["reason"] == row.reason


def test_a_refused_smtp_recipient_fails_the_email_with_the_servers_reply(
    db, mailbox, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc(), email="gone@example.org")

    make_dispatcher().dispatch(MONDAY_MORNING)

    row = messages(db)[0]
    assert (row.status, mailbox[0].messages) == ("failed", [])
    assert row.reason == "SMTP server refused recipient: 550 5.1.1 mailbox unavailable"


def test_a_render_failure_fails_the_message_naming_the_template(
    db, mailbox, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc(body="Contract {{ attributes.contract_no }}"))

    report = make_dispatcher().dispatch(MONDAY_MORNING)

    row = messages(db)[0]
    assert (report.failed, row.status, mailbox[0].messages) == (1, "failed", [])
    assert (row.reason or "").startswith("template 'reminder' (en-GB, tone 1) failed to render")


def test_a_looping_template_dead_letters_its_messages_alone_and_the_batch_goes_out(
    db, mailbox, make_dispatcher
) -> None:
    # Issue 15, point 2: one published looping template blocked all dispatch. Its loop depends
    # on the case (so validation cannot see it); it must stop at the render budget, dead-letter
    # its messages with the reason, and let every other message of the batch go out.
    looping = send_doc(
        body="{% for i in range(9000) %}{% for c in reference * 10000 %}.{% endfor %}{% endfor %}"
    )
    looping["key"] = "looping"
    with db.transaction() as session:
        bad = publish(session, looping, MONDAY_MORNING)
        good = publish(session, send_doc(), MONDAY_MORNING)
        for version in (bad, good, good, bad, good, good):
            make_case(session, version, MONDAY_MORNING)
    Runtime(db).tick(MONDAY_MORNING)

    started = time.perf_counter()
    report = make_dispatcher(batch_size=3).dispatch(MONDAY_MORNING)

    assert time.perf_counter() - started < 5
    rows = messages(db)
    assert (report.sent, report.dead, len(mailbox[0].messages)) == (4, 2, 4)
    dead = [row for row in rows if row.status == "dead"]
    assert {row.version_id for row in dead} == {bad.id}
    assert {row.status for row in rows if row.version_id == good.id} == {"sent"}
    reason = dead[0].reason or ""
    assert reason.startswith(
        "Template 'reminder' (email, en-GB, tone 1) of journey 'looping' is over its budget"
    )
    assert [a["reason"] for a in audits(db, "dead_letter")] == [reason, reason]
    assert [a["set_aside"] for a in audits(db, "dead_letter")] == [False, True]


def test_one_provider_down_does_not_hold_up_the_other_channel(
    db, mailbox, twilio, make_dispatcher
) -> None:
    twilio.refuse["+4915123456789"] = (500, {"message": "boom"})
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)
    queue(db, MONDAY_MORNING, send_doc())

    report = make_dispatcher().dispatch(MONDAY_MORNING)

    assert (report.sent, report.retried, len(mailbox[0].messages)) == (1, 1, 1)


# -- the fault test: killed between the provider's acceptance and the status write -------------

KILLED_RUN = """
import json, os, sys
from datetime import datetime
from engine import Database, Dispatcher
from engine.delivery.config import DeliveryConfig

def killed(self, claimed, run):
    # The provider has accepted every claimed message; die before a single status is written.
    sys.stdout.write(json.dumps([c.result.status for c in claimed]))
    sys.stdout.flush()
    os._exit(137)

Dispatcher._record = killed
config = DeliveryConfig(profiles=json.loads(sys.argv[2]), source="test")
dispatcher = Dispatcher(Database(sys.argv[1]), config=config, portal_base_url="https://p.example")
dispatcher.dispatch(datetime.fromisoformat(sys.argv[3]))
sys.exit("the dispatcher was not killed")
"""


def test_a_dispatcher_killed_after_the_provider_accepted_neither_loses_nor_doubles_an_sms(
    db, mailbox, twilio, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)
    args = [db.url, json.dumps(profiles(mailbox[1], twilio.base_url)), MONDAY_MORNING.isoformat()]

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )

    row = messages(db)[0]
    key = str(row.id)
    assert killed.returncode == 137, killed.stderr
    assert json.loads(killed.stdout) == ["accepted"]
    assert (row.status, row.attempts, row.provider_message_id) == ("sending", 1, None)
    assert len(twilio.created(key)) == 1

    # Restarted within the lease: the message is still someone's, nothing is sent.
    restarted = make_dispatcher()
    early = restarted.dispatch(MONDAY_MORNING + LEASE - timedelta(seconds=1))
    assert (early.sent, twilio.posts) == (0, [key])

    # Past the lease: sent again with the same key; the provider answers with the first message.
    report = restarted.dispatch(MONDAY_MORNING + LEASE + timedelta(minutes=1))

    row = messages(db)[0]
    (only,) = twilio.created(key)
    assert report.sent == 1 and twilio.posts == [key, key]
    assert (row.status, row.attempts) == ("sent", 2)
    assert row.provider_message_id == only["resource"]["sid"]
    assert len(twilio.messages) == 1
    assert [a["status"] for a in audits(db, "message")] == ["sent"]


class Killed(BaseException):
    """Stands in for SIGKILL inside the process: nothing after it runs, nothing catches it."""


def test_an_in_process_kill_after_the_send_is_healed_by_the_next_dispatcher(
    db, twilio, make_dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):
        queue(db, MONDAY_MORNING, send_doc("sms"), phone=PHONE_DE)

    def killed(self: Dispatcher, claimed: list[Any], run: Any) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(Dispatcher, "_record", killed)
        with pytest.raises(Killed):
            make_dispatcher(workers=1).dispatch(MONDAY_MORNING)
    # The first outcome could not be written: the thread hands over nothing more.
    assert {r.status for r in messages(db)} == {"sending"} and len(twilio.messages) == 1

    report = make_dispatcher().dispatch(MONDAY_MORNING + LEASE)

    rows = messages(db)
    assert report.sent == 3 and {r.status for r in rows} == {"sent"}
    assert len(twilio.messages) == 3 and len(twilio.posts) == 4
    for row in rows:
        (only,) = twilio.created(str(row.id))
        assert row.provider_message_id == only["resource"]["sid"]


def test_a_cases_second_message_is_decided_in_the_same_run_behind_the_claims(
    db, twilio, mailbox, make_dispatcher
) -> None:
    """Each claim of a run starts behind the rows it looked at; a case's second message, held
    back until its first is handed over, lies before that point and is decided at the run's
    final look from the start (here: deferred by the minimum gap to the next day)."""
    doc = journey_doc(
        key="two-at-once",
        templates={
            "mail": template(channel="email", body="Please pay.", locale="en-GB"),
            "text": template(channel="sms", body="Please pay.", locale="en-GB"),
        },
        nodes=[
            node("start", "start"),
            node("mail", "send", channel="email", template="mail"),
            node("text", "send", channel="sms", template="text"),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "mail"),
            edge("mail", "text"),
            edge("text", "wait"),
            edge("wait", "done"),
        ],
    )
    for _ in range(5):
        queue(db, MONDAY_MORNING, doc, phone=PHONE_DE)
    assert len(messages(db)) == 10

    report = make_dispatcher(batch_size=2, workers=2).dispatch(MONDAY_MORNING)

    rows = messages(db)
    assert (report.sent, report.deferred) == (5, 5)
    assert {r.status for r in rows if r.channel == "email"} == {"sent"}
    assert all(
        r.not_before > MONDAY_MORNING.replace(tzinfo=None) for r in rows if r.channel == "sms"
    )
    assert len(mailbox[0].messages) == 5 and not twilio.posts
