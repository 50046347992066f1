"""Webhook subscriptions over the API: create (secret once), list, delivery log, replay."""

from __future__ import annotations

from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock, record_event
from engine.delivery.webhooks import emit_from_audit
from tests.api.conftest import case_json

HOOK = {"url": "http://127.0.0.1:9/hooks", "event_types": ["case.paid"]}


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
