"""POST /hooks/sms/<provider>: signed SMS receipts become delivery reports; errors are 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from api.receipts import bp
from connectors.signing import sign
from connectors.sms_receipts import twilio_signature
from engine import Database
from engine.delivery.config import DeliveryConfig
from engine.storage.models import EventRow, OutboxRow
from mahnwerk.wsgi import create_app
from mahnwerk_web import db as api_db
from tests.factories import edge, journey_doc, make_case, node, publish, template

AUTH_TOKEN, SECRET = "twilio-auth-token", "webhook-secret"
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
URL = "http://localhost/hooks/sms/twilio"


def sms_journey() -> dict[str, Any]:
    """start -> send an SMS -> wait 3 days -> end."""
    return journey_doc(
        key="sms-receipts",
        templates={"reminder": template(channel="sms", body="Please pay.")},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="sms", template="reminder"),
            node("wait", "wait", mode="duration", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def twilio_config(**extra: Any) -> DeliveryConfig:
    sms = {"provider": "twilio", "account_sid": "AC1", "auth_token": AUTH_TOKEN, **extra}
    return DeliveryConfig(profiles={"email": {"provider": "sandbox"}, "sms": sms})


def webhook_config(secret: str | None = SECRET) -> DeliveryConfig:
    sms = {"provider": "webhook", "url": "https://sms.example/send"}
    if secret:
        sms["secret"] = secret
    return DeliveryConfig(profiles={"email": {"provider": "sandbox"}, "sms": sms})


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A migrated database with one sent SMS (provider id SM1) for one case."""
    database = Database(f"sqlite:///{tmp_path / 'receipts.sqlite3'}")
    database.create_all()
    with database.transaction() as session:
        version = publish(session, sms_journey(), NOW)
        case = make_case(session, version, NOW, external_id="SMS-1", phone="+4915123456789")
        session.execute(
            insert(OutboxRow),
            [
                {
                    "idempotency_key": "c1-v1-remind",
                    "case_id": case.id,
                    "version_id": version.id,
                    "node_id": "remind",
                    "channel": "sms",
                    "template": "reminder",
                    "status": "sent",
                    "provider_message_id": "SM1",
                    "not_before": NOW.replace(tzinfo=None),
                    "sent_at": NOW.replace(tzinfo=None),
                    "created_at": NOW.replace(tzinfo=None),
                    "attempts": 1,
                }
            ],
        )
    yield database
    database.dispose()


def make_app(database: Database, config: DeliveryConfig) -> Flask:
    """A minimal Flask app with the blueprint and the database."""
    app = Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="test",
        DATABASE_URL=database.url,
        DELIVERY_CONFIG=config,
    )
    api_db.init_app(app)
    app.register_blueprint(bp)
    return app


def client(database: Database, config: DeliveryConfig, **kw: Any) -> FlaskClient:
    return make_app(database, config, **kw).test_client()


def twilio_post(c: FlaskClient, form: dict[str, str], token: str = AUTH_TOKEN) -> Any:
    signature = twilio_signature(token, URL, form)
    return c.post("/hooks/sms/twilio", data=form, headers={"X-Twilio-Signature": signature})


def webhook_post(c: FlaskClient, payload: dict[str, Any], secret: str = SECRET) -> Any:
    body = json.dumps(payload).encode()
    headers = {"Mahnwerk-Signature": sign(secret, body), "Content-Type": "application/json"}
    return c.post("/hooks/sms/webhook", data=body, headers=headers)


def stored(database: Database) -> tuple[str | None, list[tuple[str, str]]]:
    with database.transaction() as session:
        row = session.scalar(select(OutboxRow))
        assert row is not None
        events = [(e.event_id, e.type) for e in session.scalars(select(EventRow))]
        return row.delivery_status, events


def test_a_signed_twilio_delivered_callback_is_recorded(database: Database) -> None:
    c = client(database, twilio_config())

    answer = twilio_post(c, {"MessageSid": "SM1", "MessageStatus": "delivered"})

    assert answer.status_code == 200, answer.json
    assert answer.json == {
        "recorded": True,
        "status": "delivered",
        "event_id": "delivery-1-delivered",
    }
    assert stored(database) == ("delivered", [("delivery-1-delivered", "message_delivered")])


def test_twilio_undelivered_is_a_bounce_and_a_repeat_is_stored_once(database: Database) -> None:
    c = client(database, twilio_config())
    form = {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"}

    first = twilio_post(c, form)
    second = twilio_post(c, form)

    assert (first.status_code, second.status_code) == (200, 200)
    assert stored(database) == ("bounced", [("delivery-1-bounced", "message_bounced")])


def test_an_in_flight_status_is_acknowledged_but_not_recorded(database: Database) -> None:
    answer = twilio_post(
        client(database, twilio_config()), {"MessageSid": "SM1", "MessageStatus": "sent"}
    )

    assert (answer.status_code, answer.json["recorded"]) == (200, False)
    assert stored(database) == (None, [])


def test_a_wrong_twilio_signature_is_403_and_changes_nothing(database: Database) -> None:
    c = client(database, twilio_config())

    answer = twilio_post(c, {"MessageSid": "SM1", "MessageStatus": "delivered"}, token="wrong")
    unsigned = c.post("/hooks/sms/twilio", data={"MessageSid": "SM1", "MessageStatus": "failed"})

    assert (answer.status_code, unsigned.status_code) == (403, 403)
    assert "X-Twilio-Signature does not match" in answer.json["error"]
    assert stored(database) == (None, [])


def test_the_public_base_url_is_what_twilio_signed(database: Database) -> None:
    app = make_app(database, twilio_config())
    app.config["RECEIPTS_BASE_URL"] = "https://mahnwerk.example.com/"
    form = {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "30008"}
    signature = twilio_signature(AUTH_TOKEN, "https://mahnwerk.example.com/hooks/sms/twilio", form)

    answer = app.test_client().post(
        "/hooks/sms/twilio", data=form, headers={"X-Twilio-Signature": signature}
    )

    assert answer.status_code == 200
    assert stored(database) == ("failed", [("delivery-1-failed", "message_failed")])


def test_a_signed_generic_receipt_is_recorded(database: Database) -> None:
    c = client(database, webhook_config())

    answer = webhook_post(c, {"id": "SM1", "status": "undelivered", "error": "absent subscriber"})

    assert answer.status_code == 200
    assert stored(database) == ("bounced", [("delivery-1-bounced", "message_bounced")])


def test_a_wrong_generic_signature_is_403(database: Database) -> None:
    answer = webhook_post(
        client(database, webhook_config()), {"id": "SM1", "status": "delivered"}, "x"
    )

    assert answer.status_code == 403 and "Mahnwerk-Signature" in answer.json["error"]


def test_a_webhook_profile_without_a_secret_refuses_receipts(database: Database) -> None:
    c = client(database, webhook_config(secret=None))

    answer = c.post("/hooks/sms/webhook", json={"id": "SM1", "status": "delivered"})

    assert answer.status_code == 403
    assert answer.json["error"] == "The SMS profile has no secret, so receipts cannot be verified."


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        ({"id": "SM-unknown", "status": "delivered"}, 404, "No message was sent"),
        ({"id": "SM1", "status": "exploded"}, 400, "unknown status 'exploded'"),
        ({"status": "delivered"}, 400, "without id"),
    ],
)
def test_bad_generic_receipts_are_clear_4xx(
    database: Database, payload: dict[str, Any], status: int, words: str
) -> None:
    answer = webhook_post(client(database, webhook_config()), payload)

    assert answer.status_code == status and words in answer.json["error"]


def test_a_body_that_is_not_json_is_400(database: Database) -> None:
    body = b"<xml>nope</xml>"
    answer = client(database, webhook_config()).post(
        "/hooks/sms/webhook", data=body, headers={"Mahnwerk-Signature": sign(SECRET, body)}
    )

    assert answer.status_code == 400 and "not JSON" in answer.json["error"]


def test_a_twilio_callback_without_sid_is_400(database: Database) -> None:
    answer = twilio_post(client(database, twilio_config()), {"MessageStatus": "delivered"})

    assert answer.status_code == 400 and "without MessageSid" in answer.json["error"]


def test_a_provider_the_sms_channel_does_not_use_is_404(database: Database) -> None:
    c = client(database, twilio_config())

    other = webhook_post(c, {"id": "SM1", "status": "delivered"})
    unknown = c.post("/hooks/sms/acme", data={})

    assert (other.status_code, unknown.status_code) == (404, 404)
    assert "not configured for provider 'webhook'" in other.json["error"]
    assert "Unknown SMS provider 'acme'" in unknown.json["error"]


def test_providers_need_no_csrf_token(database: Database) -> None:
    """Through the whole program with the designer's CSRF on: /hooks/ is the API app's."""
    program = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WTF_CSRF_ENABLED": True,
            "DATABASE_URL": database.url,
            "DELIVERY_CONFIG": twilio_config(),
        }
    )

    answer = twilio_post(program.test_client(), {"MessageSid": "SM1", "MessageStatus": "delivered"})

    assert answer.status_code == 200


# -- WhatsApp (Cloud API) ---------------------------------------------------------------------


APP_SECRET = "meta-app-secret"


def whatsapp_config(**extra: Any) -> DeliveryConfig:
    whatsapp = {
        "provider": "cloud_api",
        "phone_number_id": "106540352242922",
        "access_token": "t",
        "app_secret": APP_SECRET,
        "verify_token": "verify-me",
        **extra,
    }
    return DeliveryConfig(profiles={"email": {"provider": "sandbox"}, "whatsapp": whatsapp})


def whatsapp_post(c: FlaskClient, status: str, secret: str = APP_SECRET, **extra: Any) -> Any:
    import hashlib
    import hmac

    item = {"id": "SM1", "status": status, "timestamp": "1767600000", **extra}
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "W", "changes": [{"field": "messages", "value": {"statuses": [item]}}]}
            ],
        }
    ).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
    return c.post("/hooks/whatsapp", data=body, headers=headers)


def test_a_signed_whatsapp_read_status_is_recorded_as_opened(database: Database) -> None:
    c = client(database, whatsapp_config())

    answer = whatsapp_post(c, "read")

    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["recorded"][0]["status"] == "opened"
    assert stored(database)[0] == "opened"


def test_an_undeliverable_whatsapp_failure_is_a_bounce(database: Database) -> None:
    c = client(database, whatsapp_config())

    answer = whatsapp_post(c, "failed", errors=[{"code": 131026, "title": "Undeliverable"}])

    assert answer.status_code == 200, answer.get_json()
    assert stored(database)[0] == "bounced"


def test_a_whatsapp_status_with_a_bad_signature_is_refused(database: Database) -> None:
    c = client(database, whatsapp_config())

    answer = whatsapp_post(c, "delivered", secret="wrong")

    assert answer.status_code == 403 and "X-Hub-Signature-256" in answer.get_json()["error"]
    assert stored(database) == (None, [])


def test_whatsapp_statuses_without_a_configured_profile_are_404(database: Database) -> None:
    c = client(database, DeliveryConfig(profiles={"email": {"provider": "sandbox"}}))

    assert whatsapp_post(c, "delivered").status_code == 404


def test_the_whatsapp_subscription_handshake_echoes_the_challenge(database: Database) -> None:
    c = client(database, whatsapp_config())
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": "verify-me",
        "hub.challenge": "1158201444",
    }

    ok = c.get("/hooks/whatsapp", query_string=query)
    refused = c.get("/hooks/whatsapp", query_string={**query, "hub.verify_token": "nope"})

    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "1158201444")
    assert refused.status_code == 403
