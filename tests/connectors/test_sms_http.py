"""Twilio-compatible and webhook SMS providers against a local HTTP server."""

from __future__ import annotations

import base64
import json
import urllib.parse
from decimal import Decimal

import pytest

from connectors.base import SmsConnector, SmsMessage
from connectors.signing import verify
from connectors.sms_http import TwilioSmsConnector, WebhookSmsConnector


def sms(body: str = "Bitte zahlen Sie 89,00 EUR: https://pay.example/c/1") -> SmsMessage:
    return SmsMessage(
        idempotency_key="outbox-7",
        to="0151 2345 6789",
        body=body,
        status_callback_url="https://mahnwerk.example/hooks/sms",
    )


def twilio(provider, **kw) -> TwilioSmsConnector:
    settings = dict(account_sid="AC123", auth_token="tok", from_number="+4930123456", timeout=2.0)
    settings.update(kw)
    return TwilioSmsConnector(base_url=provider.base_url, **settings)


def form(recorded) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(recorded.body.decode()))


def test_twilio_satisfies_the_sms_protocol(sms_provider) -> None:
    assert isinstance(twilio(sms_provider), SmsConnector)


def test_twilio_posts_to_the_account_messages_resource(sms_provider) -> None:
    twilio(sms_provider).send(sms())
    assert sms_provider.requests[0].path == "/2010-04-01/Accounts/AC123/Messages.json"


def test_twilio_uses_basic_auth(sms_provider) -> None:
    twilio(sms_provider).send(sms())
    auth = sms_provider.requests[0].headers["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"AC123:tok"


def test_twilio_sends_the_idempotency_token(sms_provider) -> None:
    twilio(sms_provider).send(sms())
    assert sms_provider.requests[0].headers["I-Twilio-Idempotency-Token"] == "outbox-7"


def test_twilio_form_has_e164_number_sender_body_and_callback(sms_provider) -> None:
    twilio(sms_provider).send(sms())
    assert form(sms_provider.requests[0]) == {
        "To": "+4915123456789",
        "From": "+4930123456",
        "Body": sms().body,
        "StatusCallback": "https://mahnwerk.example/hooks/sms",
    }


def test_twilio_201_is_accepted_with_sid_segments_and_cost(sms_provider) -> None:
    sms_provider.reply = lambda r: (201, {"sid": "SM42", "num_segments": "2", "status": "queued"})
    result = twilio(sms_provider, price_per_segment="0.08").send(sms())
    assert (result.status, result.provider_message_id, result.segments, result.cost) == (
        "accepted",
        "SM42",
        2,
        Decimal("0.16"),
    )


def test_twilio_messaging_service_replaces_from(sms_provider) -> None:
    twilio(sms_provider, from_number=None, messaging_service_sid="MG9").send(sms())
    fields = form(sms_provider.requests[0])
    assert (fields.get("MessagingServiceSid"), "From" in fields) == ("MG9", False)


def test_twilio_400_is_permanent_with_the_providers_message(sms_provider) -> None:
    sms_provider.reply = lambda r: (400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
    result = twilio(sms_provider).send(sms())
    assert result.status == "permanent_failure"
    assert result.reason == (
        "SMS provider refused the message (HTTP 400, error 21211): Invalid 'To' Phone Number"
    )


def test_twilio_500_is_temporary(sms_provider) -> None:
    sms_provider.reply = lambda r: (500, {"message": "oops"})
    assert twilio(sms_provider).send(sms()).status == "temporary_failure"


def test_twilio_429_is_temporary(sms_provider) -> None:
    sms_provider.reply = lambda r: (429, {"message": "Too Many Requests"})
    assert twilio(sms_provider).send(sms()).status == "temporary_failure"


def test_timeout_is_temporary(sms_provider) -> None:
    sms_provider.delay = 0.6
    result = twilio(sms_provider, timeout=0.2).send(sms())
    assert result.status == "temporary_failure"
    assert "no answer within 0.2 seconds" in (result.reason or "")


def test_connection_refused_is_temporary(unused_port: int) -> None:
    connector = TwilioSmsConnector(
        "AC1", "t", "+4930123456", base_url=f"http://127.0.0.1:{unused_port}"
    )
    assert connector.send(sms()).status == "temporary_failure"


def test_invalid_number_is_permanent_and_not_posted(sms_provider) -> None:
    result = twilio(sms_provider).send(SmsMessage("k", "12345", "Hallo"))
    assert (result.status, sms_provider.requests) == ("permanent_failure", [])
    assert "Invalid to '12345'" in (result.reason or "")


def test_over_long_body_is_refused_before_it_costs_money(sms_provider) -> None:
    result = twilio(sms_provider, max_segments=2).send(sms("x" * 400))
    assert (result.status, sms_provider.requests) == ("permanent_failure", [])


def webhook(provider, **kw) -> WebhookSmsConnector:
    return WebhookSmsConnector(url=provider.base_url + "/sms", timeout=2.0, **kw)


def test_webhook_posts_json_with_idempotency_key(sms_provider) -> None:
    webhook(sms_provider, sender="MusterShop").send(sms())
    recorded = sms_provider.requests[0]
    assert recorded.headers["Idempotency-Key"] == "outbox-7"
    assert recorded.json()["to"] == "+4915123456789"
    assert recorded.json()["sender"] == "MusterShop"


def test_webhook_signs_the_exact_body(sms_provider) -> None:
    webhook(sms_provider, secret="hush").send(sms())
    recorded = sms_provider.requests[0]
    assert verify("hush", recorded.body, recorded.headers["Mahnwerk-Signature"])


def test_webhook_signature_does_not_verify_with_another_secret(sms_provider) -> None:
    webhook(sms_provider, secret="hush").send(sms())
    recorded = sms_provider.requests[0]
    assert not verify("other", recorded.body, recorded.headers["Mahnwerk-Signature"])


def test_webhook_reports_encoding_and_segments(sms_provider) -> None:
    webhook(sms_provider).send(sms("Zahlung fällig ✅"))
    payload = sms_provider.requests[0].json()
    assert (payload["encoding"], payload["segments"]) == ("UCS-2", 1)


def test_webhook_accepts_with_the_providers_id(sms_provider) -> None:
    sms_provider.reply = lambda r: (202, {"id": "p-1"})
    result = webhook(sms_provider, price_per_segment=Decimal("0.05")).send(sms())
    assert (result.status, result.provider_message_id, result.cost) == (
        "accepted",
        "p-1",
        Decimal("0.05"),
    )


@pytest.mark.parametrize(
    ("status", "outcome"), [(400, "permanent_failure"), (503, "temporary_failure")]
)
def test_webhook_maps_http_status(sms_provider, status: int, outcome: str) -> None:
    sms_provider.reply = lambda r: (status, {"error": "nope"})
    assert webhook(sms_provider).send(sms()).status == outcome


def test_webhook_payload_is_valid_json_for_non_ascii(sms_provider) -> None:
    webhook(sms_provider).send(sms("Grüße"))
    assert json.loads(sms_provider.requests[0].body.decode("utf-8"))["body"] == "Grüße"
