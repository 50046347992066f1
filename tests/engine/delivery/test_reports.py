"""Delivery reports: outbox row, case event once, fallback on a hard bounce, journeys branch."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database, Runtime
from engine.delivery.reports import DeliveryReportError, UnknownMessage, record_delivery
from engine.storage.models import EventRow
from tests.engine.delivery import test_dispatcher as base
from tests.engine.delivery.test_dispatcher import (
    MONDAY_MORNING,
    PHONE_DE,
    audits,
    messages,
    queue,
    send_doc,
)
from tests.factories import case_row, edge, journey_doc, node, template

# The real SMTP server, Twilio-compatible API and dispatcher fixtures of the dispatcher tests.
mailbox, twilio, make_dispatcher = base.mailbox, base.twilio, base.make_dispatcher


def sent_email(db: Database, make_dispatcher: Any, **send: Any) -> int:
    """Queue and really send one email (with an SMS fallback); returns its outbox id."""
    queue(db, MONDAY_MORNING, send_doc(fallback_channel="sms", **send), phone=PHONE_DE)
    make_dispatcher().dispatch(MONDAY_MORNING)
    (row,) = messages(db)
    assert row.status == "sent"
    return row.id


def report(db: Database, minutes: int = 5, **kw: Any) -> EventRow | None:
    with db.transaction() as session:
        return record_delivery(session, MONDAY_MORNING + timedelta(minutes=minutes), **kw)


def events(db: Database) -> list[tuple[str, str, dict[str, Any]]]:
    with db.transaction() as session:
        rows = session.scalars(select(EventRow).order_by(EventRow.id))
        return [(r.event_id, r.type, r.payload) for r in rows]


@pytest.mark.parametrize(
    ("status", "event_type"),
    [
        ("delivered", "message_delivered"),
        ("bounced", "message_bounced"),
        ("failed", "message_failed"),
        ("opened", "message_opened"),
        ("clicked", "message_clicked"),
        ("opted_out", "opted_out"),
    ],
)
def test_each_report_sets_the_delivery_status_and_stores_its_event(
    db, make_dispatcher, status: str, event_type: str
) -> None:
    outbox_id = sent_email(db, make_dispatcher)

    event = report(db, outbox_id=outbox_id, status=status)

    assert event is not None and event.type == event_type
    assert event.event_id == f"delivery-{outbox_id}-{status}"
    assert event.payload["channel"] == "email"
    assert messages(db)[0].delivery_status == status


def test_a_report_finds_the_message_by_the_providers_id(db, make_dispatcher) -> None:
    outbox_id = sent_email(db, make_dispatcher)
    provider_id = messages(db)[0].provider_message_id

    report(db, provider_message_id=provider_id, status="delivered", detail="250 2.0.0 OK")

    assert events(db) == [
        (
            f"delivery-{outbox_id}-delivered",
            "message_delivered",
            {"channel": "email", "outbox_id": outbox_id, "detail": "250 2.0.0 OK"},
        )
    ]
    assert audits(db, "delivery_report")[-1]["status"] == "delivered"


def test_a_repeated_report_is_stored_once(db, make_dispatcher) -> None:
    outbox_id = sent_email(db, make_dispatcher)

    first = report(db, outbox_id=outbox_id, status="delivered")
    second = report(db, minutes=9, outbox_id=outbox_id, status="delivered")

    assert first is not None and second is not None and first.id == second.id
    assert len(events(db)) == 1 and len(audits(db, "delivery_report")) == 1


def test_a_late_delivered_does_not_undo_opened(db, make_dispatcher) -> None:
    outbox_id = sent_email(db, make_dispatcher)

    report(db, outbox_id=outbox_id, status="opened")
    report(db, outbox_id=outbox_id, status="delivered")

    assert messages(db)[0].delivery_status == "opened"
    assert [e[1] for e in events(db)] == ["message_opened", "message_delivered"]


def test_a_hard_bounce_queues_the_fallback_channel_once(db, twilio, make_dispatcher) -> None:
    outbox_id = sent_email(db, make_dispatcher)

    report(db, outbox_id=outbox_id, status="bounced", detail="550 5.1.1 user unknown")
    report(db, minutes=6, outbox_id=outbox_id, status="bounced")
    dispatcher = make_dispatcher()
    gap = dispatcher.dispatch(MONDAY_MORNING + timedelta(minutes=10))
    deferred = messages(db)[1]
    sent = dispatcher.dispatch(deferred.not_before)

    email, sms = messages(db)
    assert (email.delivery_status, sms.channel, sms.status) == ("bounced", "sms", "sent")
    assert sms.idempotency_key == f"{email.idempotency_key}-fb"
    # Germany's 12-hour gap after the email, then quiet hours: Tuesday 08:00 in Berlin.
    assert (gap.deferred, deferred.reason) == (1, "deferred:min_gap")
    assert str(deferred.not_before) == "2026-03-03 07:00:00"
    assert sent.sent == 1 and len(twilio.created(str(sms.id))) == 1
    assert audits(db, "fallback") == [
        {
            "outbox_id": email.id,
            "channel": "email",
            "template": "reminder",
            "fallback": "sms",
            "after": "bounced",
            "hop": 1,
            "reason": "bounced",
            "skipped": [],
        }
    ]


def test_a_bounce_without_a_fallback_address_queues_nothing(db, make_dispatcher) -> None:
    queue(db, MONDAY_MORNING, send_doc(fallback_channel="sms"), phone=None)
    make_dispatcher().dispatch(MONDAY_MORNING)

    report(db, outbox_id=messages(db)[0].id, status="bounced")

    assert len(messages(db)) == 1 and audits(db, "fallback") == []


def test_an_unknown_status_or_message_is_refused_clearly(db, make_dispatcher) -> None:
    outbox_id = sent_email(db, make_dispatcher)

    with pytest.raises(DeliveryReportError, match="Unknown delivery status 'lost'"):
        report(db, outbox_id=outbox_id, status="lost")
    with pytest.raises(UnknownMessage, match="provider id 'SMnope'"):
        report(db, provider_message_id="SMnope", status="delivered")
    with pytest.raises(UnknownMessage, match="no outbox message 999"):
        report(db, outbox_id=999, status="delivered")
    with pytest.raises(DeliveryReportError, match="outbox id or a provider message id"):
        report(db, status="delivered")
    assert events(db) == []


def bounce_doc() -> dict[str, Any]:
    """Email, then wait for delivery or a bounce: a bounce sends a letter, delivery ends."""
    return journey_doc(
        key="bounce-branch",
        templates={
            "reminder": template(body="Please pay {{ format_money(amount_open) }}."),
            "letter": template(channel="letter", body="Please pay by transfer."),
        },
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder"),
            node(
                "watch",
                "wait_event",
                events=["message_bounced", "message_delivered"],
                timeout_days=7,
            ),
            node("post", "send", channel="letter", template="letter"),
            node("after_post", "wait", mode="duration", days=14),
            node("delivered", "end", outcome="closed"),
            node("timeout", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "remind"),
            edge("remind", "watch"),
            edge("watch", "post", "message_bounced"),
            edge("watch", "delivered", "message_delivered"),
            edge("watch", "timeout", "timeout"),
            edge("post", "after_post"),
            edge("after_post", "delivered"),
        ],
    )


def test_a_bounce_report_moves_a_waiting_journey_down_its_bounced_way(
    db, mailbox, make_dispatcher
) -> None:
    address = {"street": "Hauptstraße 5", "postcode": "10115", "city": "Berlin"}
    case_id = queue(db, MONDAY_MORNING, bounce_doc(), external_id="BOUNCE-1", **address)
    make_dispatcher().dispatch(MONDAY_MORNING)
    with db.transaction() as session:
        assert case_row(session, "BOUNCE-1").node_id == "watch"
    provider_id = messages(db)[0].provider_message_id
    assert mailbox[0].message_ids() == [provider_id]

    later = MONDAY_MORNING + timedelta(hours=2)
    with db.transaction() as session:
        record_delivery(session, later, provider_message_id=provider_id, status="bounced")
        assert case_row(session, "BOUNCE-1").due_at is not None
    Runtime(db).tick(later)

    with db.transaction() as session:
        case = case_row(session, "BOUNCE-1")
    assert (case.id, case.node_id, case.status) == (case_id, "after_post", "active")
    transitions = [a for a in audits(db, "transition") if a.get("port") == "message_bounced"]
    assert [t["to"] for t in transitions] == ["post"]
    assert [m.channel for m in messages(db)] == ["email", "letter"]
