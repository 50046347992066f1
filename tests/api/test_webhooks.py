"""Webhook subscriptions over the API: create (secret once), list, delivery log, replay."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from engine import Database, Runtime, VirtualClock, record_event
from engine.delivery.webhooks import ALLOW_PRIVATE_ENV, emit_from_audit
from engine.storage.api_models import WebhookDeliveryRow
from tests.api.conftest import case_json

HOOK = {"url": "https://erp.example.org/hooks", "event_types": ["case.paid"]}


def test_the_secret_is_shown_on_creation(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/webhooks", json=HOOK, headers=auth)
    assert (response.status_code, response.json["secret"][:6]) == (201, "whsec_")


def test_the_list_hides_the_secret(client: FlaskClient, auth: dict[str, str]) -> None:
    client.post("/api/v1/webhooks", json=HOOK, headers=auth)
    items = client.get("/api/v1/webhooks", headers=auth).json["items"]
    assert [("secret" in i, i["event_types"]) for i in items] == [(False, ["case.paid"])]


def test_a_bad_url_is_named(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/webhooks", json={**HOOK, "url": "ftp://x"}, headers=auth)
    assert list(response.json["errors"]) == ["url"]


def test_the_log_shows_queued_deliveries_and_replays(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    sub = client.post("/api/v1/webhooks", json=HOOK, headers=auth).json["id"]
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    runtime = Runtime(api_db)
    runtime.tick(clock.now)
    with api_db.transaction() as session:
        payload = {"amount": "250.00", "currency": "EUR"}
        record_event(session, "INV-1", "p", "payment_received", payload, clock.now)
    runtime.tick(clock.now)
    emit_from_audit(api_db, clock.now)
    log = client.get(f"/api/v1/webhooks/{sub}/deliveries", headers=auth).json["items"]
    replayed = client.post(f"/api/v1/webhooks/deliveries/{log[0]['id']}/replay", headers=auth)
    assert ([d["event_type"] for d in log], replayed.status_code) == (["case.paid"], 202)
    client.delete(f"/api/v1/webhooks/{sub}", headers=auth)
    refused = client.post(f"/api/v1/webhooks/deliveries/{log[0]['id']}/replay", headers=auth)
    assert (refused.status_code, refused.json["type"].rsplit("/", 1)[-1]) == (
        409,
        "subscription-inactive",
    )


def test_unsubscribe_is_204(client: FlaskClient, auth: dict[str, str]) -> None:
    sub = client.post("/api/v1/webhooks", json=HOOK, headers=auth).json["id"]
    assert client.delete(f"/api/v1/webhooks/{sub}", headers=auth).status_code == 204


def test_an_internal_url_is_refused_by_field(
    client: FlaskClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_PRIVATE_ENV, raising=False)
    hook = {**HOOK, "url": "http://169.254.169.254/latest/meta-data/"}
    response = client.post("/api/v1/webhooks", json=hook, headers=auth)
    assert (response.status_code, list(response.json["errors"])) == (422, ["url"])
    assert "private, loopback or link-local" in response.json["errors"]["url"][0]


def test_a_read_token_sees_no_raw_connection_error(
    client: FlaskClient,
    auth: dict[str, str],
    read_token: str,
    api_db: Database,
    clock: VirtualClock,
) -> None:
    """Rows stored before the categories kept the raw error: the log shows a category."""
    sub = client.post("/api/v1/webhooks", json=HOOK, headers=auth).json["id"]
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    runtime = Runtime(api_db)
    runtime.tick(clock.now)
    with api_db.transaction() as session:
        payload = {"amount": "250.00", "currency": "EUR"}
        record_event(session, "INV-1", "p", "payment_received", payload, clock.now)
    runtime.tick(clock.now)
    emit_from_audit(api_db, clock.now)
    raw = "ConnectionRefusedError: [Errno 111] Connection refused"
    with api_db.transaction() as session:
        session.execute(update(WebhookDeliveryRow).values(last_error=raw))
    read = {"Authorization": f"Bearer {read_token}"}
    log = client.get(f"/api/v1/webhooks/{sub}/deliveries", headers=read).json["items"]
    assert [d["last_error"] for d in log] == ["connection failed"]
