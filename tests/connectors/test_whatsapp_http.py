"""WhatsApp Business Cloud API connector against a local fake speaking its wire format."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors.base import WhatsAppConnector, WhatsAppMessage
from connectors.registry import build_connector
from connectors.whatsapp_http import (
    CloudApiWhatsAppConnector,
    WebhookError,
    parse_statuses,
    verify_signature,
)
from connectors.whatsapp_sandbox import SandboxWhatsAppConnector
from tests.connectors.fake_http import FakeServer, Reply, Request

TOKEN = "EAAG-test-token"
PHONE_ID = "106540352242922"
SECRET = "app-secret"


class FakeCloudApi(FakeServer):
    """POST /{version}/{phone-number-id}/messages as Meta answers it."""

    def __init__(self) -> None:
        super().__init__()
        self.counter = 0
        self.route("POST", r"/v\d+\.\d+/(\d+)/messages", self._messages)

    def _messages(self, request: Request, match: re.Match[str]) -> Reply:
        if request.header("Authorization") != f"Bearer {TOKEN}":
            error = {
                "message": "Invalid OAuth access token.",
                "type": "OAuthException",
                "code": 190,
            }
            return Reply(401, {"error": error})
        if match.group(1) != PHONE_ID:
            return Reply(400, {"error": {"message": "Unsupported post request", "code": 100}})
        data = request.json()
        if data.get("type") != "template" or data.get("messaging_product") != "whatsapp":
            return Reply(400, {"error": {"message": "(#100) Invalid parameter", "code": 100}})
        self.counter += 1
        return Reply(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": data["to"], "wa_id": data["to"]}],
                "messages": [{"id": f"wamid.HBgL{self.counter:04d}"}],
            },
        )


@pytest.fixture
def cloud() -> Iterator[FakeCloudApi]:
    server = FakeCloudApi().start()
    yield server
    server.stop()


def message(**kw: object) -> WhatsAppMessage:
    values: dict[str, object] = {
        "idempotency_key": "outbox-9",
        "to": "0151 2345 6789",
        "template_name": "payment_reminder",
        "language": "de",
        "parameters": ("Bitte zahlen Sie 89,00 €:\n\nhttps://pay.example/c/1",),
        "body": "Bitte zahlen Sie 89,00 €: https://pay.example/c/1",
    }
    values.update(kw)
    return WhatsAppMessage(**values)  # type: ignore[arg-type]


def connector(cloud: FakeCloudApi, **kw: object) -> CloudApiWhatsAppConnector:
    settings: dict[str, object] = {
        "phone_number_id": PHONE_ID,
        "access_token": TOKEN,
        "base_url": cloud.base_url,
        "timeout": 1.0,
    }
    settings.update(kw)
    return build_connector("whatsapp", {"provider": "cloud_api", **settings})


def test_it_satisfies_the_whatsapp_protocol(cloud) -> None:
    assert isinstance(connector(cloud), WhatsAppConnector)
    assert isinstance(SandboxWhatsAppConnector(), WhatsAppConnector)


def test_a_template_message_goes_to_the_numbers_messages_edge(cloud) -> None:
    result = connector(cloud, price_per_message="0.0536").send(message())

    assert (result.status, result.provider_message_id) == ("accepted", "wamid.HBgL0001")
    assert result.cost == Decimal("0.0536")
    (request,) = cloud.requests
    assert request.path == f"/v21.0/{PHONE_ID}/messages"
    assert request.header("Authorization") == f"Bearer {TOKEN}"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915123456789",
        "type": "template",
        "template": {
            "name": "payment_reminder",
            "language": {"code": "de"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {
                            "type": "text",
                            "text": "Bitte zahlen Sie 89,00 €: https://pay.example/c/1",
                        }
                    ],
                }
            ],
        },
    }


def test_a_bad_token_is_a_permanent_failure_naming_the_code(cloud) -> None:
    result = connector(cloud, access_token="wrong").send(message())

    assert result.status == "permanent_failure"
    assert "HTTP 401, error 190" in (result.reason or "")


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (429, {"code": 130429, "message": "Rate limit hit"}, "temporary_failure"),
        (400, {"code": 131056, "message": "Pair rate limit hit"}, "temporary_failure"),
        (500, {"code": 131000, "message": "Something went wrong"}, "temporary_failure"),
        (503, {"code": 2, "message": "Service temporarily unavailable"}, "temporary_failure"),
        (400, {"code": 132001, "message": "Template name does not exist"}, "permanent_failure"),
        (400, {"code": 132000, "message": "Parameter count mismatch"}, "permanent_failure"),
        (400, {"code": 131026, "message": "Message undeliverable"}, "permanent_failure"),
    ],
)
def test_error_codes_map_to_permanent_or_transient(cloud, status, error, expected) -> None:
    cloud.scripted.append(Reply(status, {"error": {**error, "type": "OAuthException"}}))

    result = connector(cloud).send(message())

    assert result.status == expected
    assert f"error {error['code']}" in (result.reason or "")


def test_an_undeliverable_number_reads_invalid_so_the_chain_goes_on(cloud) -> None:
    cloud.scripted.append(Reply(400, {"error": {"code": 131026, "message": "undeliverable"}}))

    result = connector(cloud).send(message())

    assert "invalid" in (result.reason or "").lower()  # the dispatcher's fallback trigger


def test_a_timeout_is_temporary(cloud) -> None:
    cloud.delay = 1.5

    result = connector(cloud, timeout=0.3, keep_alive=False).send(message())

    assert result.status == "temporary_failure" and "could not be reached" in (result.reason or "")


def test_an_answer_without_a_message_id_is_retried_not_trusted(cloud) -> None:
    cloud.scripted.append(Reply(200, {"messaging_product": "whatsapp"}))

    assert connector(cloud).send(message()).status == "temporary_failure"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"to": "not a number"}, "to"),
        ({"template_name": "Payment Reminder"}, "template_name"),
        ({"language": "german"}, "language"),
        ({"parameters": ("x" * 1025,)}, "parameters.0"),
        ({"parameters": ("  ",)}, "parameters.0"),
    ],
)
def test_bad_messages_are_refused_before_any_request(cloud, kw, field) -> None:
    result = connector(cloud).send(message(**kw))

    assert result.status == "permanent_failure" and field in (result.reason or "")
    assert cloud.requests == []


def test_settings_name_wrong_keys_and_the_phone_number_id_is_checked() -> None:
    with pytest.raises(Exception, match="Missing required setting"):
        build_connector("whatsapp", {"provider": "cloud_api", "phone_number_id": PHONE_ID})
    with pytest.raises(ValueError, match="phone_number_id"):
        CloudApiWhatsAppConnector(phone_number_id="abc", access_token=TOKEN)


# -- status webhooks --------------------------------------------------------------------------


def status_body(status: str = "delivered", **extra: object) -> bytes:
    item = {"id": "wamid.HBgL0001", "status": status, "timestamp": "1767600000", **extra}
    return json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "WABA-ID",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {"messaging_product": "whatsapp", "statuses": [item]},
                        }
                    ],
                }
            ],
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_a_status_webhook_signed_with_the_app_secret_verifies() -> None:
    body = status_body()

    assert verify_signature(SECRET, body, signed(body))
    assert not verify_signature(SECRET, body, signed(body, "other"))
    assert not verify_signature(SECRET, body + b" ", signed(body))
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, signed(body).replace("sha256=", "sha1="))


def test_statuses_are_read_with_their_errors() -> None:
    errors = [{"code": 131026, "title": "Message undeliverable"}]

    (failed,) = parse_statuses(status_body("failed", errors=errors))
    (read,) = parse_statuses(status_body("read"))

    assert (failed.provider_message_id, failed.status) == ("wamid.HBgL0001", "failed")
    assert failed.detail == "131026: Message undeliverable"
    assert read.status == "read"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"{}", b'{"object": "whatsapp_business_account", "entry": 3}', status_body("x")],
)
def test_a_malformed_webhook_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookError):
        parse_statuses(body)


def test_the_sandbox_applies_the_same_checks_and_stores_the_rest() -> None:
    sandbox = SandboxWhatsAppConnector()

    assert sandbox.send(message()).ok and len(sandbox.sent) == 1
    assert sandbox.send(message(idempotency_key="x", template_name="Bad Name")).status == (
        "permanent_failure"
    )


def test_a_profile_with_webhook_secrets_builds(cloud) -> None:
    built = connector(cloud, app_secret=SECRET, verify_token="v", template_name="payment_reminder")
    assert (built.app_secret, built.verify_token) == (SECRET, "v")
