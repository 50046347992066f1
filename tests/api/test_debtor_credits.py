"""Hosts list a debtor's credits and settle one once: POST /debtors/{id}/credits/{id}/settle."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock
from engine.storage.models import EventRow
from tests.api.conftest import case_json


@pytest.fixture
def credit(client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock) -> int:
    """CR-1 (40.00) and CR-2 (60.00) of C-CREDIT, US-1 (30.00 USD) of C-CREDIT, X-1 of C-OTHER;
    130.00 arrives for CR-1 and 90.00 is kept. Returns the credit's id."""
    for ext, debtor, amount, currency in (
        ("CR-1", "C-CREDIT", "40.00", "EUR"),
        ("CR-2", "C-CREDIT", "60.00", "EUR"),
        ("US-1", "C-CREDIT", "30.00", "USD"),
        ("X-1", "C-OTHER", "50.00", "EUR"),
    ):
        body = case_json(external_id=ext, debtor_id=debtor, amount=amount, currency=currency)
        assert client.post("/api/v1/cases", json=body, headers=auth).status_code == 201
    Runtime(api_db).tick(clock.now)
    event = {
        "event_id": "bank:77",
        "type": "payment_received",
        "payload": {"amount": "130.00", "currency": "EUR"},
    }
    assert client.post("/api/v1/cases/CR-1/events", json=event, headers=auth).status_code == 202
    Runtime(api_db).tick(clock.now)
    (kept,) = client.get("/api/v1/debtors/C-CREDIT/credits", headers=auth).json["credits"]
    assert (kept["amount"], kept["state"], kept["from_case"]) == ("90.00", "kept", "CR-1")
    return int(kept["id"])


def _settle(client: FlaskClient, auth: dict[str, str], credit: int, **body: Any) -> Any:
    url = f"/api/v1/debtors/C-CREDIT/credits/{credit}/settle"
    return client.post(url, json=body, headers=auth)


def test_set_off_books_what_the_case_owes_once_and_keeps_the_rest(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock, credit: int
) -> None:
    first = _settle(client, auth, credit, how="set_off", case="CR-2", note="agreed")
    again = _settle(client, auth, credit, how="set_off", case="CR-2", note="agreed")
    Runtime(api_db).tick(clock.now)

    assert first.status_code == 200, first.json
    body = first.json
    assert (body["credit"]["state"], body["credit"]["settled_amount"]) == ("set_off", "60.00")
    assert body["credit"]["set_off_case"] == "CR-2" and body["event_id"] == f"credit:{credit}"
    assert body["credit"]["settled_by"].startswith("api:")
    assert (body["rest"]["amount"], body["rest"]["state"], body["rest"]["rest_of"]) == (
        "30.00",
        "kept",
        credit,
    )
    assert body["replayed"] is False and again.json["replayed"] is True
    debtor = client.get("/api/v1/debtors/C-CREDIT", headers=auth).json
    assert debtor["credits"] == [{"amount": "30.00", "currency": "EUR"}]
    assert {c["external_id"]: c["status"] for c in debtor["cases"]}["CR-2"] == "closed"
    with api_db.transaction() as session:  # booked once, through the one event intake
        booked = session.scalars(select(EventRow.payload).where(EventRow.event_id.like("credit:%")))
        assert [p["amount"] for p in booked] == ["60.00"]


def test_paid_back_and_then_refused_as_settled(
    client: FlaskClient, auth: dict[str, str], clock: VirtualClock, credit: int
) -> None:
    day = clock.now.date().isoformat()
    done = _settle(client, auth, credit, how="paid_back", paid_on=day, reference="SEPA-1")
    late = _settle(client, auth, credit, how="set_off", case="CR-2")

    assert done.status_code == 200, done.json
    assert (done.json["credit"]["state"], done.json["credit"]["reference"]) == (
        "paid_back",
        "SEPA-1",
    )
    assert done.json["credit"]["settled_on"] == day and done.json["rest"] is None
    assert late.status_code == 409 and late.json["type"].endswith("/credit-settled")
    assert client.get("/api/v1/debtors/C-CREDIT", headers=auth).json["credits"] == []
    listed = client.get("/api/v1/debtors/C-CREDIT/credits", headers=auth).json["credits"]
    assert [c["state"] for c in listed] == ["paid_back"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"how": "refund"}, "how"),
        ({}, "how"),
        ({"how": "set_off"}, "case"),
        ({"how": "set_off", "case": "X-1"}, "case"),  # another debtor's case
        ({"how": "set_off", "case": "US-1"}, "case"),  # another currency
        ({"how": "set_off", "case": "CR-1"}, "case"),  # closed
        ({"how": "set_off", "case": "NOPE"}, "case"),
        ({"how": "set_off", "case": 5}, "case"),
        ({"how": "paid_back"}, "paid_on"),
        ({"how": "paid_back", "paid_on": "tomorrow"}, "paid_on"),
        ({"how": "paid_back", "paid_on": "2999-01-01"}, "paid_on"),
        ({"how": "paid_back", "paid_on": "2026-03-02", "reference": "r" * 101}, "reference"),
        ({"how": "paid_back", "paid_on": "2026-03-02", "amount": "5"}, "amount"),
    ],
)
def test_a_bad_body_answers_422_naming_the_field(
    client: FlaskClient, auth: dict[str, str], credit: int, body: dict[str, Any], field: str
) -> None:
    answer = _settle(client, auth, credit, **body)
    assert answer.status_code == 422, answer.json
    assert field in str(answer.json["errors"])
    listed = client.get("/api/v1/debtors/C-CREDIT/credits", headers=auth).json["credits"]
    assert [c["state"] for c in listed] == ["kept"]


def test_unknown_debtor_credit_and_scope(
    client: FlaskClient, auth: dict[str, str], read_token: str, credit: int
) -> None:
    body = {"how": "set_off", "case": "CR-2"}
    other = client.post(f"/api/v1/debtors/C-OTHER/credits/{credit}/settle", json=body, headers=auth)
    nobody = client.post(f"/api/v1/debtors/NOPE/credits/{credit}/settle", json=body, headers=auth)
    reader = _settle(client, {"Authorization": f"Bearer {read_token}"}, credit, **body)

    assert other.status_code == 404 and other.json["type"].endswith("/unknown-credit")
    assert nobody.status_code == 404 and nobody.json["type"].endswith("/unknown-debtor")
    assert reader.status_code == 403
    assert client.get("/api/v1/debtors/NOPE/credits", headers=auth).status_code == 404
