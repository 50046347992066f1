"""Events: stored once per event id, applied by the next tick, conflicts named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock
from tests.api.conftest import case_json, stored_rows, twin_app


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


def test_a_hold_until_a_day_shows_the_day_and_a_bad_day_is_named(
    client: FlaskClient, auth: dict[str, str], case: Runtime, clock: VirtualClock
) -> None:
    response = _event(client, auth, "h0", "cease_contact", until="next week")
    assert (response.status_code, list(response.json["errors"])) == (422, ["payload.until"])
    response = _event(client, auth, "h1", "cease_contact", until="2026-04-01", reason="letter")
    assert response.status_code == 202
    case.tick(clock.now)
    got = client.get("/api/v1/cases/INV-1", headers=auth).json
    assert (got["status"], got["hold_reason"], got["hold_until"]) == (
        "held",
        "cease_contact",
        "2026-04-01",
    )


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


# -- bulk -----------------------------------------------------------------------------------------

PAY = {"amount": "10.00", "currency": "EUR"}
# Items as a bank file would send them, and every way one can fail.
BULK_ITEMS: list[Any] = [
    {"case": "INV-1", "event_id": "b1", "type": "payment_received", "payload": PAY},
    {"case": "INV-1", "event_id": "b1", "type": "payment_received", "payload": PAY},
    {"case": "INV-1", "event_id": "seen", "type": "payment_received", "payload": PAY},
    {"case": "INV-1", "event_id": "seen-other", "type": "payment_received", "payload": PAY},
    {"case": "NOPE", "event_id": "b2", "type": "dispute_opened"},
    {"case": "INV-1", "event_id": "b3", "type": "payment_received", "payload": {"amount": "-1"}},
    {
        "case": "INV-1",
        "event_id": "b4",
        "type": "payment_received",
        "payload": {**PAY, "currency": "USD"},
    },
    {"case": "CLOSED", "event_id": "b5", "type": "dispute_opened"},
    {
        "case": "INV-1",
        "event_id": "b6",
        "type": "promise_to_pay",
        "payload": {"date": "2026-04-01"},
        "occurred_at": "2026-03-01T10:00:00+02:00",
    },
    {"case": "INV-1", "event_id": "b7", "type": "no_such_type"},
    "not an object",
]
EXPECTED = [
    ("created", []),
    ("replayed", []),
    ("replayed", []),
    ("invalid", ["event_id"]),
    ("invalid", ["case"]),
    ("invalid", ["payload.amount", "payload.currency"]),
    ("invalid", ["payload.currency"]),
    ("created", []),
    ("created", []),
    ("invalid", ["type"]),
    ("invalid", ["_schema"]),
]


def _prior_events(client: FlaskClient, auth: dict[str, str]) -> None:
    for event_id, kind in (("seen", "payment_received"), ("seen-other", "dispute_opened")):
        body = {"event_id": event_id, "type": kind}
        if kind == "payment_received":
            body["payload"] = PAY
        assert client.post("/api/v1/cases/INV-1/events", json=body, headers=auth).status_code == 202


def test_bulk_events_give_each_item_its_result(tmp_path: Path, clock: VirtualClock) -> None:
    app, tokens = twin_app(tmp_path / "bulk.sqlite3", clock)
    client, auth = app.test_client(), {"Authorization": f"Bearer {tokens['write']}"}
    _prior_events(client, auth)
    response = client.post("/api/v1/events/bulk", json={"events": BULK_ITEMS}, headers=auth)
    assert response.status_code == 200, response.json
    results = response.json["results"]
    assert [(r["status"], list(r["errors"])) for r in results] == EXPECTED
    assert [r["index"] for r in results] == list(range(len(BULK_ITEMS)))
    assert response.json["counts"] == {"created": 3, "replayed": 2, "invalid": 6}


def test_bulk_events_store_what_single_posts_store(tmp_path: Path, clock: VirtualClock) -> None:
    bulk, bulk_tokens = twin_app(tmp_path / "bulk.sqlite3", clock)
    single, single_tokens = twin_app(tmp_path / "single.sqlite3", clock)
    for app, tokens in ((bulk, bulk_tokens), (single, single_tokens)):
        _prior_events(app.test_client(), {"Authorization": f"Bearer {tokens['write']}"})
    auth = {"Authorization": f"Bearer {bulk_tokens['write']}"}
    bulk.test_client().post("/api/v1/events/bulk", json={"events": BULK_ITEMS}, headers=auth)
    auth = {"Authorization": f"Bearer {single_tokens['write']}"}
    for item, (status, fields) in zip(BULK_ITEMS, EXPECTED, strict=True):
        if not isinstance(item, dict):
            continue
        body = {k: v for k, v in item.items() if k != "case"}
        answer = single.test_client().post(
            f"/api/v1/cases/{item['case']}/events", json=body, headers=auth
        )
        single_status = {202: "replayed" if answer.json.get("replayed") else "created"}
        assert single_status.get(answer.status_code, "invalid") == status, item
        if answer.status_code == 422:
            assert list(answer.json["errors"]) == fields, item
    assert stored_rows(bulk) == stored_rows(single)


def test_a_bulk_of_more_than_10000_events_is_refused(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    events = [
        {"case": "INV-1", "event_id": f"e{i}", "type": "dispute_opened"} for i in range(10_001)
    ]
    response = client.post("/api/v1/events/bulk", json={"events": events}, headers=auth)
    assert (response.status_code, list(response.json["errors"])) == (422, ["events"])


def test_a_bulk_with_an_idempotency_key_is_replayed(
    client: FlaskClient, auth: dict[str, str], case: Runtime
) -> None:
    body = {"events": [{"case": "INV-1", "event_id": "k1", "type": "dispute_opened"}]}
    headers = {**auth, "Idempotency-Key": "bulk-1"}
    first = client.post("/api/v1/events/bulk", json=body, headers=headers)
    again = client.post("/api/v1/events/bulk", json=body, headers=headers)
    assert (again.data, again.headers["Idempotent-Replayed"]) == (first.data, "true")
    assert first.json["counts"] == {"created": 1}
