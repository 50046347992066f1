"""Delivery receipts from Twilio and the generic JSON webhook."""

from __future__ import annotations

import json

import pytest

from connectors.sms_receipts import (
    DeliveryReceipt,
    ReceiptError,
    parse_generic_receipt,
    parse_twilio_status,
    twilio_signature,
    verify_twilio_signature,
)


def test_twilio_delivered() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    assert parse_twilio_status(form) == DeliveryReceipt("SM1", "delivered", None)


def test_twilio_undelivered_carries_the_error_code() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert parse_twilio_status(form) == DeliveryReceipt("SM1", "undelivered", "error 30003")


@pytest.mark.parametrize("raw", ["queued", "sending", "sent", "accepted"])
def test_twilio_in_flight_states_mean_sent(raw: str) -> None:
    assert parse_twilio_status({"MessageSid": "SM1", "MessageStatus": raw}).status == "sent"


def test_twilio_unknown_status_is_refused() -> None:
    with pytest.raises(ReceiptError, match="unknown status"):
        parse_twilio_status({"MessageSid": "SM1", "MessageStatus": "teleported"})


def test_twilio_signature_round_trip() -> None:
    url, form = "https://mw.example/hooks/sms", {"MessageSid": "SM1", "MessageStatus": "sent"}
    signature = twilio_signature("tok", url, form)
    assert verify_twilio_signature("tok", url, form, signature)
    assert not verify_twilio_signature("tok", url, {**form, "MessageStatus": "failed"}, signature)


def test_twilio_signature_known_vector() -> None:
    # base64(HMAC-SHA1("tok", "https://a.example/cb" + "AbFoo" + "Bb")) computed independently.
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"tok", b"https://a.example/cbAbFooBb", hashlib.sha1).digest()
    ).decode()
    assert twilio_signature("tok", "https://a.example/cb", {"B": "b", "A": "bFoo"}) == expected


def test_generic_json_receipt() -> None:
    body = json.dumps({"id": "p-1", "status": "failed", "error": "absent subscriber"})
    assert parse_generic_receipt(body.encode()) == DeliveryReceipt(
        "p-1", "failed", "absent subscriber"
    )


def test_generic_receipt_accepts_message_id_and_a_dict() -> None:
    assert parse_generic_receipt({"message_id": "p-2", "status": "DELIVERED"}).status == "delivered"


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"status": "sent"}', b'{"id": "1", "status": "lost"}']
)
def test_malformed_generic_receipts_are_refused(body: bytes) -> None:
    with pytest.raises(ReceiptError):
        parse_generic_receipt(body)
