"""Events: stored once per event id, applied by the next tick, conflicts named."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock
from tests.api.conftest import case_json


@pytest.fixture
def case(client: FlaskClient, auth: dict[str, str], app: Any, clock: VirtualClock) -> Runtime:
    """INV-1, started on its journey; returns the runtime to tick with."""
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    runtime = Runtime(Database(app.config["DATABASE_URL"]))
    runtime.tick(clock.now)
    return runtime


def _event(client: FlaskClient, auth: dict[str, str], event_id: str, kind: str, **payload: Any):
    body = {"event_id": event_id, "type": kind, "payload": payload}
    return client.post("/api/v1/cases/INV-1/events", json=body, headers=auth)


def test_an_event_is_accepted(client: FlaskClient, auth: dict[str, str], case: Runtime) -> None:
    response = _event(client, auth, "p1", "payment_received", amount="50.00", currency="EUR")
    assert (response.status_code, response.json["replayed"]) == (202, False)


def test_a_repeated_event_id_is_stored_once(
    client: FlaskClient, auth: dict[str, str], case: Runtime
) -> None:
    _event(client, auth, "p1", "payment_received", amount="50.00", currency="EUR")
    response = _event(client, auth, "p1", "payment_received", amount="50.00", currency="EUR")
    assert response.json["replayed"] is True


def test_an_event_id_reused_for_another_type_is_a_conflict(
    client: FlaskClient, auth: dict[str, str], case: Runtime
) -> None:
    _event(client, auth, "p1", "payment_received", amount="50.00", currency="EUR")
    response = _event(client, auth, "p1", "dispute_opened")
    assert (response.status_code, list(response.json["errors"])) == (422, ["event_id"])


def test_a_partial_payment_lowers_the_open_amount(
    client: FlaskClient, auth: dict[str, str], case: Runtime, clock: VirtualClock
) -> None:
    _event(client, auth, "p1", "payment_received", amount="50.00", currency="EUR")
    case.tick(clock.now)
    assert client.get("/api/v1/cases/INV-1", headers=auth).json["amount_open"] == "200.00"


def test_a_full_payment_closes_the_case_as_paid(
    client: FlaskClient, auth: dict[str, str], case: Runtime, clock: VirtualClock
) -> None:
    _event(client, auth, "p1", "payment_received", amount="250.00", currency="EUR")
    case.tick(clock.now)
    got = client.get("/api/v1/cases/INV-1", headers=auth).json
    assert (got["status"], got["outcome"]) == ("closed", "paid")


def test_a_dispute_holds_the_case(
    client: FlaskClient, auth: dict[str, str], case: Runtime, clock: VirtualClock
) -> None:
    _event(client, auth, "d1", "dispute_opened")
    case.tick(clock.now)
    assert client.get("/api/v1/cases/INV-1", headers=auth).json["status"] == "held"


def test_a_payment_in_another_currency_is_named(
    client: FlaskClient, auth: dict[str, str], case: Runtime
) -> None:
    response = _event(client, auth, "p1", "payment_received", amount="5.00", currency="USD")
    assert list(response.json["errors"]) == ["payload.currency"]


def test_a_bad_payload_field_is_named(
    client: FlaskClient, auth: dict[str, str], case: Runtime
) -> None:
    response = _event(client, auth, "c1", "consent_changed", channel="pigeon", granted=True)
    assert list(response.json["errors"]) == ["payload.channel"]


def test_an_unknown_type_is_named(client: FlaskClient, auth: dict[str, str], case: Runtime) -> None:
    response = _event(client, auth, "x1", "invoice_eaten")
    assert list(response.json["errors"]) == ["type"]


def test_an_event_for_an_unknown_case_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    body = {"event_id": "e1", "type": "dispute_opened"}
    response = client.post("/api/v1/cases/NOPE/events", json=body, headers=auth)
    assert response.status_code == 404
