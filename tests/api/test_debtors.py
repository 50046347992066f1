"""The API takes the debtor: `debtor_id` or a `debtor` object on a case, and /debtors/{id}."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock
from tests.api.conftest import case_json


def _post(client: FlaskClient, auth: dict[str, str], **overrides: Any) -> Any:
    return client.post("/api/v1/cases", json=case_json(**overrides), headers=auth)


def test_a_case_names_its_debtor_by_customer_id(client: FlaskClient, auth: dict[str, str]) -> None:
    first = _post(client, auth, external_id="A-1", debtor_id="C-1")
    second = _post(
        client,
        auth,
        external_id="A-2",
        debtor={"external_id": "C-1", "email": "new@example.org", "consent": {"sms": True}},
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["case"]["debtor"] == second.json["case"]["debtor"] == "C-1"
    debtor = client.get("/api/v1/debtors/C-1", headers=auth).json
    assert [c["external_id"] for c in debtor["cases"]] == ["A-1", "A-2"]
    assert (debtor["email"], debtor["consent"]) == ("new@example.org", {"sms": True})


def test_a_case_without_a_debtor_shows_none(client: FlaskClient, auth: dict[str, str]) -> None:
    assert _post(client, auth, external_id="A-3").json["case"]["debtor"] is None


def test_bulk_upsert_takes_the_debtor(client: FlaskClient, auth: dict[str, str]) -> None:
    cases = [case_json(external_id=f"BK-{i}", debtor_id="C-9") for i in range(2)]

    answer = client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=auth).json

    assert answer["counts"] == {"created": 2}
    debtor = client.get("/api/v1/debtors/C-9", headers=auth).json
    assert len(debtor["cases"]) == 2


def test_patching_the_debtor_reaches_all_their_cases(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    _post(client, auth, external_id="P-1", debtor_id="C-2")
    _post(client, auth, external_id="P-2", debtor_id="C-2")
    Runtime(api_db).tick(clock.now)

    answer = client.patch(
        "/api/v1/debtors/C-2", json={"street": "Neuweg 2", "city": "Köln"}, headers=auth
    )
    Runtime(api_db).tick(clock.now)

    assert answer.status_code == 200 and answer.json["street"] == "Neuweg 2"
    for ext in ("P-1", "P-2"):
        assert client.get(f"/api/v1/cases/{ext}", headers=auth).json["street"] == "Neuweg 2"


def test_bad_debtor_input_is_named(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth, external_id="X-1", debtor_id="C-3")

    unknown = client.patch("/api/v1/debtors/NOPE", json={"city": "Bonn"}, headers=auth)
    bad = client.patch("/api/v1/debtors/C-3", json={"email": "nope"}, headers=auth)
    slash = _post(client, auth, external_id="X-2", debtor_id="a/b")

    assert unknown.status_code == 404
    assert bad.status_code == 422 and "email" in bad.json["errors"]
    assert slash.status_code == 422 and "debtor_id" in slash.json["errors"]


def test_merging_a_debtor_moves_their_cases_once(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth, external_id="M-1", debtor_id="OLD-1")
    _post(client, auth, external_id="M-2", debtor_id="NEW-1")

    first = client.post("/api/v1/debtors/OLD-1/merge", json={"into": "NEW-1"}, headers=auth)
    again = client.post("/api/v1/debtors/OLD-1/merge", json={"into": "NEW-1"}, headers=auth)
    debtor = client.get("/api/v1/debtors/NEW-1", headers=auth).json
    old = client.get("/api/v1/debtors/OLD-1", headers=auth).json

    assert first.status_code == 200 and first.json["cases"] == ["M-1"]
    assert again.status_code == 200 and again.json["replayed"] is True
    assert [c["external_id"] for c in debtor["cases"]] == ["M-1", "M-2"]
    assert old["merged_into"] == "NEW-1" and debtor["merged_into"] is None


def test_bad_merges_are_named(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth, external_id="N-1", debtor_id="SELF-1")

    itself = client.post("/api/v1/debtors/SELF-1/merge", json={"into": "SELF-1"}, headers=auth)
    unknown = client.post("/api/v1/debtors/SELF-1/merge", json={"into": "NOPE"}, headers=auth)
    missing = client.post("/api/v1/debtors/SELF-1/merge", json={}, headers=auth)

    assert itself.status_code == 422 and "into" in itself.json["errors"]
    assert unknown.status_code == 404 and "NOPE" in unknown.json["detail"]
    assert missing.status_code == 422 and "into" in missing.json["errors"]


def test_an_event_about_the_person_holds_every_case(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    _post(client, auth, external_id="H-1", debtor_id="HOLD-1")
    _post(client, auth, external_id="H-2", debtor_id="HOLD-1")
    Runtime(api_db).tick(clock.now)

    answer = client.post(
        "/api/v1/debtors/HOLD-1/events",
        json={"event_id": "att-1", "type": "attorney_represented"},
        headers=auth,
    )
    Runtime(api_db).tick(clock.now)
    debtor = client.get("/api/v1/debtors/HOLD-1", headers=auth).json

    assert answer.status_code == 202 and answer.json["cases"] == ["H-1", "H-2"]
    assert debtor["holds"] == ["attorney"]
    assert {c["status"] for c in debtor["cases"]} == {"held"}


def test_bad_events_about_the_person_are_named(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth, external_id="E-1", debtor_id="EV-1")

    dispute = client.post(
        "/api/v1/debtors/EV-1/events",
        json={"event_id": "d", "type": "dispute_opened"},
        headers=auth,
    )
    unknown = client.post(
        "/api/v1/debtors/NOPE/events", json={"event_id": "i", "type": "insolvency"}, headers=auth
    )

    bad_day = client.post(
        "/api/v1/debtors/EV-1/events",
        json={"event_id": "b", "type": "breathing_space_started", "payload": {"until": "soon"}},
        headers=auth,
    )

    assert dispute.status_code == 422 and "type" in dispute.json["errors"]
    assert unknown.status_code == 404
    assert (bad_day.status_code, list(bad_day.json["errors"])) == (422, ["payload.until"])


def test_a_payment_beyond_the_case_shows_as_the_debtors_credit(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    _post(client, auth, external_id="CR-1", debtor_id="C-CREDIT", amount="40.00")
    _post(client, auth, external_id="CR-2", debtor_id="C-CREDIT", amount="60.00")
    Runtime(api_db).tick(clock.now)
    event = {
        "event_id": "bank:77",
        "type": "payment_received",
        "payload": {"amount": "65.50", "currency": "EUR"},
    }
    assert client.post("/api/v1/cases/CR-1/events", json=event, headers=auth).status_code == 202

    before = client.get("/api/v1/debtors/C-CREDIT", headers=auth).json["credits"]
    Runtime(api_db).tick(clock.now)
    debtor = client.get("/api/v1/debtors/C-CREDIT", headers=auth).json

    assert before == []
    assert debtor["credits"] == [{"amount": "25.50", "currency": "EUR"}]
    assert {c["external_id"]: c["status"] for c in debtor["cases"]}["CR-1"] == "closed"
