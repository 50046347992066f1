"""The sandbox dispatcher: renders due outbox rows in the debtor's language and stores them."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from engine import Database, Runtime, SandboxDispatcher, VirtualClock, record_event
from engine.contact_policy import DE
from engine.delivery.webhooks import emit_from_audit
from engine.storage.models import OutboxRow, VersionRow
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

PORTAL = "https://pay.example.org/p"
GERMAN = (
    "Sehr geehrte/r {{ debtor_name }}, bitte zahlen Sie {{ format_money(amount_open) }} "
    "(fällig seit {{ format_date(due_date) }}): {{ portal_url }}"
)


def send_doc(body: str = GERMAN, **send: Any) -> dict[str, Any]:
    """start -> send the 'reminder' email (German and English variants) -> wait -> end."""
    reminder = template(body=body, subject="Rechnung {{ reference }}", locale="de-DE")
    reminder["variants"].append(
        {"locale": "en-GB", "tone": 1, "subject": "Invoice", "body": "Pay {{ reference }}"}
    )
    return journey_doc(
        key="dispatch",
        templates={"reminder": reminder},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", **send),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def queue(db: Database, clock: VirtualClock, doc: dict[str, Any], **case: Any) -> VersionRow:
    """Publish the journey, open a case and tick once so its message sits in the outbox."""
    with db.transaction() as session:
        version = publish(session, doc, clock.now)
        make_case(session, version, clock.now, **case)
    Runtime(db).tick(clock.now)
    return version


def dispatched(db: Database) -> list[OutboxRow]:
    with db.transaction() as session:
        return outbox_rows(session)


@pytest.fixture
def dispatcher(db: Database) -> SandboxDispatcher:
    return SandboxDispatcher(db, portal_base_url=PORTAL, creditor="Stadtwerke Test")


def test_a_german_debtor_reads_german_money_and_dates(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), amount="1234.50", external_id="DE-1", debtor_name="Max Muster")

    dispatcher.dispatch(clock.now)

    body = dispatched(db)[0].body
    assert body.startswith(
        "Sehr geehrte/r Max Muster, bitte zahlen Sie 1.234,50\xa0€ (fällig seit 2. März 2026): "
        "https://pay.example.org/p/"
    )
    assert not body.endswith("/p/DE-1")  # a signed link, never the guessable case id


def test_the_subject_uses_the_reference_or_the_case_id(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), external_id="DE-2")

    dispatcher.dispatch(clock.now)

    assert dispatched(db)[0].subject == "Rechnung DE-2"


def test_an_english_debtor_gets_the_english_variant(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), country="GB", external_id="GB-1")

    dispatcher.dispatch(clock.now)

    assert dispatched(db)[0].body == "Pay GB-1"


def test_a_dispatched_message_is_sandboxed(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc())

    report = dispatcher.dispatch(clock.now)

    row = dispatched(db)[0]
    assert (row.status, row.attempts, row.sent_at, report.sandboxed) == (
        "sandboxed",
        1,
        clock.now.replace(tzinfo=None),
        1,
    )


def test_a_dispatched_message_records_the_debtors_address(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), email="max@example.de")

    dispatcher.dispatch(clock.now)

    assert dispatched(db)[0].recipient == "max@example.de"


def test_a_message_is_dispatched_once(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc())
    dispatcher.dispatch(clock.now)

    assert dispatcher.dispatch(clock.advance(timedelta(hours=1))).sandboxed == 0


def test_a_suppressed_message_is_not_dispatched(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), email=None)

    report = dispatcher.dispatch(clock.now)

    assert (report.sandboxed, report.failed, dispatched(db)[0].status) == (0, 0, "suppressed")


def test_a_message_that_is_not_due_yet_waits(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc())

    report = dispatcher.dispatch(clock.now - timedelta(minutes=1))

    assert (report.sandboxed, dispatched(db)[0].status) == (0, "pending")


def test_a_template_that_fails_to_render_marks_the_message_failed(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(body="Vertrag {{ attributes.contract_no }}"))

    report = dispatcher.dispatch(clock.now)

    row = dispatched(db)[0]
    assert (row.status, row.sent_at, report.failed) == ("failed", None, 1)


def test_the_failure_reason_names_the_template_variant_and_problem(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(body="Vertrag {{ attributes.contract_no }}"))

    dispatcher.dispatch(clock.now)

    reason = dispatched(db)[0].reason or ""
    assert reason.startswith("template 'reminder' (de-DE, tone 1) failed to render")
    assert "contract_no" in reason


def test_a_failed_message_is_audited_with_its_reason(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(body="Vertrag {{ attributes.contract_no }}"))

    dispatcher.dispatch(clock.now)

    with db.transaction() as session:
        found = audit_rows(session, kind="message_failed")
    assert [(a.detail["template"], a.detail["reason"][:21]) for a in found] == [
        ("reminder", "template 'reminder' (")
    ]


def test_a_sent_message_is_audited(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc())

    dispatcher.dispatch(clock.now)

    with db.transaction() as session:
        found = audit_rows(session, kind="message")
        outbox_id = outbox_rows(session)[0].id
    assert [a.detail["outbox_id"] for a in found] == [outbox_id]


def test_one_failing_message_does_not_stop_the_others(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    version = queue(db, clock, send_doc(body="{{ attributes.contract_no }}"))
    with db.transaction() as session:
        make_case(session, version, clock.now, attributes={"contract_no": "V-9"})
    Runtime(db).tick(clock.now)

    report = dispatcher.dispatch(clock.now)

    assert (report.sandboxed, report.failed) == (1, 1)
    assert [r.body for r in dispatched(db)] == [None, "V-9"]


def test_webhook_rows_are_handed_to_the_host_subscriptions(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    doc = journey_doc(
        key="handover",
        templates={},
        nodes=[
            node("start", "start"),
            node("tell", "webhook", event="case.handover", note="Agency A"),
            node("done", "end", outcome="handed_over"),
        ],
        edges=[edge("start", "tell"), edge("tell", "done")],
    )
    queue(db, clock, doc)

    dispatcher.dispatch(clock.now)
    emit_from_audit(db, clock.now)

    row = dispatched(db)[0]
    assert (row.channel, row.status, row.recipient, row.payload) == (
        "webhook",
        "sent",
        "host (webhook subscriptions)",
        {"event": "case.handover", "note": "Agency A"},
    )


def test_a_message_for_a_case_closed_since_it_was_queued_is_suppressed(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    queue(db, clock, send_doc(), external_id="PAID-1")
    with db.transaction() as session:
        record_event(
            session,
            "PAID-1",
            "pay",
            "payment_received",
            {"amount": "250", "currency": "EUR"},
            clock.now,
        )
    Runtime(db).tick(clock.now)

    dispatcher.dispatch(clock.now)

    assert [(r.status, r.reason) for r in dispatched(db)] == [("suppressed", "case_closed")]


def test_a_batch_size_smaller_than_the_outbox_still_drains_it(
    db: Database, clock: VirtualClock
) -> None:
    version = queue(db, clock, send_doc())
    with db.transaction() as session:
        for _ in range(4):
            make_case(session, version, clock.now)
    Runtime(db).tick(clock.now)

    report = SandboxDispatcher(db, batch_size=2, portal_base_url=PORTAL).dispatch(clock.now)

    assert report.sandboxed == 5


def hourly_reminders(count: int) -> dict[str, Any]:
    """A German journey that queues `count` reminders an hour apart, email and SMS in turn."""
    nodes, edges, last = [node("start", "start")], [], "start"
    for i in range(count):
        channel = "sms" if i % 2 else "email"
        nodes += [
            node(f"send{i}", "send", channel=channel, template=channel),
            node(f"wait{i}", "wait", mode="duration", days=0, hours=1),
        ]
        edges += [edge(last, f"send{i}"), edge(f"send{i}", f"wait{i}")]
        last = f"wait{i}"
    # Still open while the deferred reminders go out: a closed case's messages are suppressed.
    nodes += [node("rest", "wait", mode="duration", days=21), node("done", "end", outcome="closed")]
    edges += [edge(last, "rest"), edge("rest", "done")]
    return journey_doc(
        key="de-hourly",
        jurisdiction="DE",
        locale="de-DE",
        templates={
            "email": template(locale="de-DE"),
            "sms": template(channel="sms", subject="", locale="de-DE"),
        },
        nodes=nodes,
        edges=edges,
    )


def test_a_sandbox_run_keeps_the_german_gap_and_caps_between_a_cases_own_messages(
    db: Database, clock: VirtualClock
) -> None:
    """The simulation's path: sandboxed messages count for the guard like sent ones."""
    with db.transaction() as session:
        version = publish(session, hourly_reminders(8), clock.now)
        for _ in range(3):
            make_case(session, version, clock.now, phone="+49 151 23456789")
    runtime, dispatcher = Runtime(db), SandboxDispatcher(db, workers=1)
    for _ in range(14 * 24):
        runtime.tick(clock.now)
        dispatcher.dispatch(clock.now)
        clock.advance(timedelta(hours=1))

    rows = [r for r in dispatched(db) if r.status == "sandboxed"]
    by_case: dict[int, list[tuple[datetime, str]]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append((row.sent_at, row.channel))
    assert len(by_case) == 3 and all(len(sent) >= 5 for sent in by_case.values())
    for sent in by_case.values():
        moments = sorted(at for at, _ in sent)
        assert min(b - a for a, b in pairwise(moments)) >= DE.min_gap  # 12 hours
        for cap in DE.caps:  # 5 a week in all, 3 SMS a week
            counted = sorted(at for at, ch in sent if cap.channel in (None, ch))
            for i, at in enumerate(counted):
                in_window = [t for t in counted[: i + 1] if t > at - cap.window]
                assert len(in_window) <= cap.max_count, (cap, counted)


def test_a_webhook_to_the_host_is_no_contact_with_the_debtor(
    db: Database, clock: VirtualClock, dispatcher: SandboxDispatcher
) -> None:
    doc = journey_doc(
        key="tell-then-remind",
        templates={"reminder": template()},
        nodes=[
            node("start", "start"),
            node("tell", "webhook", event="case.reminded"),
            node("remind", "send", channel="email", template="reminder"),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "tell"),
            edge("tell", "remind"),
            edge("remind", "wait"),
            edge("wait", "done"),
        ],
    )
    queue(db, clock, doc)
    emit_from_audit(db, clock.now)  # the webhook row is 'sent' before the reminder goes

    report = dispatcher.dispatch(clock.now)

    assert (report.sandboxed, report.deferred) == (1, 0)
