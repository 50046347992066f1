"""The API's case carries what it owes: a host's fee through the event intake, and the total."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock
from tests.api.conftest import case_json


def test_a_fee_sent_as_an_event_is_owed_and_shown(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    body = {
        "event_id": "fee-1",
        "type": "fee_charged",
        "payload": {"amount": "2.50", "currency": "EUR", "name": "Porto"},
    }
    assert client.post("/api/v1/cases/INV-1/events", json=body, headers=auth).status_code == 202
    clock.advance(timedelta(minutes=5))
    Runtime(api_db).tick(clock.now)

    owed = client.get("/api/v1/cases/INV-1", headers=auth).json["owed"]

    assert owed == {
        "principal": "250.00",
        "fees": "2.50",
        "interest": "0.00",
        "total_due": "252.50",
        "interest_rate": None,  # the minimal journey charges no interest
        "currency": "EUR",
        "on": clock.now.date().isoformat(),
    }


def test_a_fee_in_another_currency_names_the_field(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    body = {
        "event_id": "fee-2",
        "type": "fee_charged",
        "payload": {"amount": "2.50", "currency": "USD"},
    }

    response = client.post("/api/v1/cases/INV-1/events", json=body, headers=auth)

    assert response.status_code == 422
    assert "currency" in str(response.json)
