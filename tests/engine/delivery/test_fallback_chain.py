"""Fallback chains: hop by hop through the guard, one message per step visit, every hop audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine import Database
from engine.delivery.dispatcher import fallback_row, insert_new_messages
from engine.delivery.reports import record_delivery
from engine.storage.models import CaseRow, OutboxRow
from tests.engine.delivery import test_dispatcher as base
from tests.engine.delivery.test_dispatcher import PHONE_DE, audits, messages, queue, set_case
from tests.factories import edge, journey_doc, node, template

# The real SMTP server, Twilio-compatible API and dispatcher fixtures of the dispatcher tests.
mailbox, twilio, make_dispatcher = base.mailbox, base.twilio, base.make_dispatcher

US_AFTERNOON = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # 13:00 in New York
US_PHONE = "+1 415 555 2671"
STREET = "1 Main St"
ADDRESS = {"postcode": "10001", "city": "New York"}
CHAIN = [{"channel": "sms", "template": "short"}, {"channel": "letter", "template": "paper"}]


def chain_doc() -> dict[str, Any]:
    """start -> email, else SMS, else letter -> wait 3 days -> end."""
    return journey_doc(
        key="chain",
        templates={
            "reminder": template(channel="email", locale="en-GB"),
            "short": template(channel="sms", body="Please pay.", locale="en-GB"),
            "paper": template(channel="letter", locale="en-GB"),
        },
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", fallbacks=CHAIN),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def us_case(db: Database, **case: Any) -> int:
    values = {
        "country": "US",
        "currency": "USD",
        "phone": US_PHONE,
        "street": STREET,
        **ADDRESS,
        **case,
    }
    return queue(db, US_AFTERNOON, chain_doc(), **values)


def gone_out(rows: list[OutboxRow]) -> list[str]:
    return [r.channel for r in rows if r.status in ("sent", "sandboxed", "sending")]


def test_each_hop_passes_the_guard_and_the_last_one_goes_out(
    db, mailbox, twilio, make_dispatcher
) -> None:
    case_id = us_case(db)
    set_case(db, case_id, contact_prefs={"opted_out": ["email"]})  # and no SMS consent (US)
    dispatcher = make_dispatcher()

    reports = [dispatcher.dispatch(US_AFTERNOON) for _ in range(4)]

    email, sms, letter = messages(db)
    assert [(r.channel, r.status, r.reason) for r in (email, sms)] == [
        ("email", "suppressed", "opted_out"),
        ("sms", "suppressed", "no_consent"),
    ]
    assert (letter.channel, letter.template, letter.status) == ("letter", "paper", "sandboxed")
    assert sms.template == "short" and sms.idempotency_key == f"{email.idempotency_key}-fb"
    assert letter.idempotency_key == f"{sms.idempotency_key}-fb"
    assert gone_out(messages(db)) == ["letter"] and twilio.posts == [] and not mailbox[0].messages
    assert [r.sent for r in reports] == [0, 0, 1, 0]
    assert [
        (a["channel"], a["fallback"], a["hop"], a["reason"]) for a in audits(db, "fallback")
    ] == [
        ("email", "sms", 1, "opted_out"),
        ("sms", "letter", 2, "no_consent"),
    ]


def test_a_hop_without_an_address_is_skipped_and_named(db, mailbox, make_dispatcher) -> None:
    case_id = us_case(db, phone=None)
    set_case(db, case_id, contact_prefs={"opted_out": ["email"]})

    make_dispatcher().dispatch(US_AFTERNOON)

    email, letter = messages(db)
    assert (letter.channel, letter.idempotency_key) == ("letter", f"{email.idempotency_key}-fb")
    (fallback,) = audits(db, "fallback")
    assert (fallback["hop"], fallback["skipped"]) == (2, ["sms"])


def test_with_consent_the_sms_goes_out_and_the_chain_stops_there(
    db, twilio, make_dispatcher
) -> None:
    case_id = us_case(db)
    set_case(db, case_id, contact_prefs={"opted_out": ["email"], "consent": {"sms": True}})
    dispatcher = make_dispatcher()

    for _ in range(3):
        dispatcher.dispatch(US_AFTERNOON)

    assert [r.channel for r in messages(db)] == ["email", "sms"]
    assert gone_out(messages(db)) == ["sms"] and len(twilio.messages) == 1


def test_bounces_walk_the_chain_once_however_often_they_are_reported(
    db, mailbox, twilio, make_dispatcher
) -> None:
    queue(
        db,
        base.MONDAY_MORNING,
        chain_doc(),
        phone=PHONE_DE,
        street="Hauptstr. 1",
        postcode="10115",
        city="Berlin",
    )
    dispatcher = make_dispatcher()
    dispatcher.dispatch(base.MONDAY_MORNING)
    later = base.MONDAY_MORNING + timedelta(minutes=5)

    email_id = messages(db)[0].id
    for _ in range(2):  # the provider reports the bounce twice
        with db.transaction() as session:
            record_delivery(session, later, outbox_id=email_id, status="bounced")
    dispatcher.dispatch(later + timedelta(days=2))  # the guard keeps a gap after the email
    sms_id = messages(db)[1].id
    with db.transaction() as session:
        record_delivery(session, later, outbox_id=sms_id, status="bounced")
    # Asked again by hand for the first message (a crashed pass replayed): no second SMS.
    case_id = messages(db)[0].case_id
    with db.transaction() as session:
        message, case = session.get(OutboxRow, email_id), session.get(CaseRow, case_id)
        assert message is not None and case is not None
        again = fallback_row(message, case, later)
        assert again is not None
        insert_new_messages(session, [again])
    dispatcher.dispatch(later + timedelta(days=4))

    rows = messages(db)
    assert [(r.channel, r.status) for r in rows] == [
        ("email", "sent"),
        ("sms", "sent"),
        ("letter", "sandboxed"),
    ]
    assert [(a["fallback"], a["reason"], a["after"]) for a in audits(db, "fallback")] == [
        ("sms", "bounced", "bounced"),
        ("letter", "bounced", "bounced"),
    ]


def test_a_steps_blind_copies_reach_the_smtp_envelope_not_the_headers(
    db, mailbox, make_dispatcher
) -> None:
    doc = base.send_doc(bcc=["archiv@shop.example"])
    queue(db, base.MONDAY_MORNING, doc)

    make_dispatcher().dispatch(base.MONDAY_MORNING)

    ((_sender, recipients, content),) = mailbox[0].messages
    assert recipients == ["erika@example.org", "archiv@shop.example"]
    assert b"archiv@shop.example" not in content and b"Bcc" not in content
    assert messages(db)[0].payload == {"bcc": ["archiv@shop.example"]}


def test_a_bad_blind_copy_address_names_node_and_field() -> None:
    from engine.authoring.validation import validate_document

    _journey, problems = validate_document(base.send_doc(bcc=["not-an-address"]))

    assert [(p.node, p.field) for p in problems] == [("remind", "params.bcc.0")]
