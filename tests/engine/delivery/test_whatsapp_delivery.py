"""WhatsApp through the dispatcher: off unless configured, consent like SMS, the Cloud API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import Database, Dispatcher
from engine.delivery.config import DeliveryConfig
from engine.delivery.outgoing import whatsapp_language
from tests.connectors.test_whatsapp_http import PHONE_ID, TOKEN, FakeCloudApi
from tests.engine.delivery import test_dispatcher as base
from tests.engine.delivery.test_dispatcher import (
    MONDAY_MORNING,
    PHONE_DE,
    PORTAL,
    audits,
    messages,
    queue,
    set_case,
)
from tests.factories import edge, journey_doc, node, template

mailbox, twilio = base.mailbox, base.twilio


@pytest.fixture
def cloud() -> Iterator[FakeCloudApi]:
    server = FakeCloudApi().start()
    yield server
    server.stop()


def whatsapp_doc() -> dict[str, Any]:
    """start -> WhatsApp, else SMS -> wait -> end."""
    return journey_doc(
        key="whatsapp",
        templates={
            "wa": template(
                channel="whatsapp", subject="payment_reminder", body="Bitte zahlen Sie.\n\nDanke."
            ),
            "short": template(channel="sms", body="Bitte zahlen Sie."),
        },
        nodes=[
            node("start", "start"),
            node(
                "remind",
                "send",
                channel="whatsapp",
                template="wa",
                fallbacks=[{"channel": "sms", "template": "short"}],
            ),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def dispatcher(db: Database, mailbox, twilio, cloud: FakeCloudApi | None) -> Dispatcher:
    profiles = base.profiles(mailbox[1], twilio.base_url)
    if cloud is not None:
        profiles["whatsapp"] = {
            "provider": "cloud_api",
            "phone_number_id": PHONE_ID,
            "access_token": TOKEN,
            "base_url": cloud.base_url,
            "timeout": 2,
        }
    config = DeliveryConfig(profiles=profiles, source="test")
    return Dispatcher(db, config=config, portal_base_url=PORTAL)


def test_whatsapp_is_off_unless_configured_and_the_chain_goes_on(db, mailbox, twilio) -> None:
    queue(db, MONDAY_MORNING, whatsapp_doc(), phone=PHONE_DE)
    sender = dispatcher(db, mailbox, twilio, None)
    try:
        sender.dispatch(MONDAY_MORNING)
        sender.dispatch(MONDAY_MORNING)
    finally:
        sender.close()

    wa, sms = messages(db)
    assert (wa.status, wa.reason) == ("suppressed", "channel_disabled")
    assert (sms.channel, sms.status) == ("sms", "sent")
    assert audits(db, "fallback")[0]["reason"] == "channel_disabled"


def test_whatsapp_needs_consent_like_sms_in_the_us(db, mailbox, twilio, cloud) -> None:
    afternoon = base.datetime(2026, 3, 2, 18, 0, tzinfo=base.UTC)
    queue(db, afternoon, whatsapp_doc(), country="US", currency="USD", phone="+1 415 555 2671")
    sender = dispatcher(db, mailbox, twilio, cloud)
    try:
        sender.dispatch(afternoon)
    finally:
        sender.close()

    assert (messages(db)[0].status, messages(db)[0].reason) == ("suppressed", "no_consent")
    assert cloud.requests == []


def test_with_consent_it_goes_to_the_cloud_api_as_a_template(db, mailbox, twilio, cloud) -> None:
    case_id = queue(db, MONDAY_MORNING, whatsapp_doc(), phone=PHONE_DE, locale="de-DE")
    set_case(db, case_id, contact_prefs={"consent": {"whatsapp": True}})
    sender = dispatcher(db, mailbox, twilio, cloud)
    try:
        report = sender.dispatch(MONDAY_MORNING)
    finally:
        sender.close()

    (row,) = messages(db)
    assert (report.sent, row.status, row.provider_message_id) == (1, "sent", "wamid.HBgL0001")
    sent = cloud.requests[0].json()
    assert sent["to"] == "4915123456789"
    assert sent["template"]["name"] == "payment_reminder"
    assert sent["template"]["language"] == {"code": "de"}
    assert sent["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Bitte zahlen Sie. Danke."}
    ]


def test_the_template_language_follows_the_debtors_locale() -> None:
    assert [whatsapp_language(x) for x in ("de-DE", "en-US", "en-GB", "en", "fr-FR")] == [
        "de",
        "en_US",
        "en_GB",
        "en",
        "fr",
    ]
