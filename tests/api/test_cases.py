"""Cases: create or update by external id, bulk, list, timeline, explanation, close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from engine import Database, Runtime, SandboxDispatcher, VirtualClock
from tests.api.conftest import case_json


def _post(client: FlaskClient, auth: dict[str, str], **overrides: Any) -> Any:
    return client.post("/api/v1/cases", json=case_json(**overrides), headers=auth)


def test_create_answers_201(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth)
    assert (response.status_code, response.json["result"]) == (201, "created")


def test_the_case_starts_on_the_only_published_journey(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    case = _post(client, auth).json["case"]
    assert (case["journey"], case["version"], case["node"]) == ("minimal", 1, "start")


def test_posting_the_same_case_again_is_unchanged(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    _post(client, auth)
    response = _post(client, auth)
    assert (response.status_code, response.json["result"]) == (200, "unchanged")


def test_put_updates_master_data(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth)
    body = case_json(debtor_name="Erika Musterfrau")
    response = client.put("/api/v1/cases/INV-1", json=body, headers=auth)
    assert (response.json["result"], response.json["case"]["debtor_name"]) == (
        "updated",
        "Erika Musterfrau",
    )


def test_a_new_email_arrives_as_a_contact_event(
    client: FlaskClient, auth: dict[str, str], app: Any, clock: VirtualClock
) -> None:
    _post(client, auth)
    runtime = Runtime(Database(app.config["DATABASE_URL"]))
    runtime.tick(clock.now)  # the case starts its journey
    client.put("/api/v1/cases/INV-1", json=case_json(email="neu@example.org"), headers=auth)
    runtime.tick(clock.now)
    assert client.get("/api/v1/cases/INV-1", headers=auth).json["email"] == "neu@example.org"


def test_the_amount_does_not_change_by_update(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth)
    response = client.put("/api/v1/cases/INV-1", json=case_json(amount="1.00"), headers=auth)
    assert list(response.json["errors"]) == ["amount"]


def test_a_put_with_another_id_in_the_body_is_refused(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.put("/api/v1/cases/INV-9", json=case_json(), headers=auth)
    assert list(response.json["errors"]) == ["external_id"]


def test_a_bad_field_is_named(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth, currency="euro")
    assert (response.status_code, list(response.json["errors"])) == (422, ["currency"])


def test_errors_are_problem_json(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth, amount="lots")
    assert response.content_type == "application/problem+json"
    assert {"type", "title", "status", "detail", "errors"} <= set(response.json)


def test_malformed_json_is_400_not_500(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/cases", data="{", content_type="application/json", headers=auth)
    assert response.status_code == 400


def test_an_unknown_journey_is_named(client: FlaskClient, auth: dict[str, str]) -> None:
    response = _post(client, auth, journey="nope")
    assert list(response.json["errors"]) == ["journey"]


def test_bulk_gives_a_result_per_item(client: FlaskClient, auth: dict[str, str]) -> None:
    cases = [case_json(external_id="B-1"), {"external_id": "B-2"}, case_json(external_id="B-1")]
    response = client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=auth)
    assert [r["status"] for r in response.json["results"]] == ["created", "invalid", "invalid"]


def test_bulk_names_the_bad_fields(client: FlaskClient, auth: dict[str, str]) -> None:
    cases = [case_json(external_id="B-1", country="Germany")]
    response = client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=auth)
    assert list(response.json["results"][0]["errors"]) == ["country"]


def test_bulk_refuses_more_than_10000(client: FlaskClient, auth: dict[str, str]) -> None:
    cases = [{}] * 10_001
    response = client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=auth)
    assert (response.status_code, list(response.json["errors"])) == (422, ["cases"])


def test_get_an_unknown_case_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/cases/NOPE", headers=auth)
    assert (response.status_code, response.content_type) == (404, "application/problem+json")


def test_the_list_pages_with_a_cursor(client: FlaskClient, auth: dict[str, str]) -> None:
    cases = [case_json(external_id=f"P-{i}") for i in range(5)]
    client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=auth)
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/cases", query_string=query, headers=auth).json
        seen += [c["external_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"P-{i}" for i in range(5)]


def test_the_list_filters_by_status(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth)
    page = client.get("/api/v1/cases?status=closed", headers=auth).json
    assert page["items"] == []


def test_the_list_filters_by_journey_and_node(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth)
    page = client.get("/api/v1/cases?journey=minimal&node=start", headers=auth).json
    assert [c["external_id"] for c in page["items"]] == ["INV-1"]


def test_the_list_filters_by_updated_since(client: FlaskClient, auth: dict[str, str]) -> None:
    _post(client, auth)
    page = client.get(
        "/api/v1/cases", query_string={"updated_since": "2999-01-01T00:00:00Z"}, headers=auth
    ).json
    assert page["items"] == []


def test_a_forged_cursor_is_named(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.get("/api/v1/cases?cursor=xyz", headers=auth)
    assert list(response.json["errors"]) == ["cursor"]


def test_the_timeline_shows_audit_rows(
    client: FlaskClient, auth: dict[str, str], app: Any, clock: VirtualClock
) -> None:
    _post(client, auth)
    Runtime(Database(app.config["DATABASE_URL"])).tick(clock.now.replace(year=2030))
    items = client.get("/api/v1/cases/INV-1/timeline", headers=auth).json["items"]
    assert "transition" in {i["kind"] for i in items}


def test_close_is_applied_by_the_next_tick(
    client: FlaskClient, auth: dict[str, str], app: Any, clock: VirtualClock
) -> None:
    _post(client, auth)
    runtime = Runtime(Database(app.config["DATABASE_URL"]))
    runtime.tick(clock.now)
    response = client.post("/api/v1/cases/INV-1/close", json={"reason": "cancelled"}, headers=auth)
    assert response.status_code == 202
    runtime.tick(clock.now)
    assert client.get("/api/v1/cases/INV-1", headers=auth).json["status"] == "closed"


def test_a_case_created_by_the_api_is_opened_in_its_timeline(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    _post(client, auth)
    client.post("/api/v1/cases/bulk", json={"cases": [case_json(external_id="B-1")]}, headers=auth)
    for case in ("INV-1", "B-1"):
        items = client.get(f"/api/v1/cases/{case}/timeline", headers=auth).json["items"]
        assert [(i["kind"], i["node"], i["detail"]) for i in items] == [
            ("opened", "start", {"source": "api"})
        ]


def _walked_to_the_condition(client: FlaskClient, auth: dict[str, str], app: Any) -> None:
    """INV-1 (612.40 EUR open) ticked past its reminder and the payment wait to 'Large amount?'."""
    _post(client, auth, amount="612.40")
    db = Database(app.config["DATABASE_URL"])
    start = datetime(2030, 3, 5, 9, tzinfo=UTC)  # a Tuesday morning: no quiet hours
    Runtime(db).tick(start)
    SandboxDispatcher(db, portal_base_url="http://x/p").dispatch(start)
    Runtime(db).tick(start + timedelta(days=11))


def test_the_explanation_says_which_rule_fired_with_which_values(
    client: FlaskClient, auth: dict[str, str], app: Any
) -> None:
    _walked_to_the_condition(client, auth, app)

    body = client.get("/api/v1/cases/INV-1/explanation", headers=auth).json
    (branch,) = [i for i in body["items"] if i["node"] == "big" and i["kind"] == "transition"]
    (sent,) = [i for i in body["items"] if i["kind"] == "message"]

    assert body["lang"] == "en"
    assert branch["rule"] == "big:enter:0"
    assert branch["reasons"] == [
        "The open amount was 612.40 EUR, so the condition “the open amount is above 100 EUR” held."
    ]
    assert branch["rule_sentence"].startswith("When a case arrives at 'Large amount?'")
    assert branch["links"] == {
        "rule": "/journeys/minimal/v1/rules#rule-big:enter:0",
        "version": "/journeys/minimal/v1/rules",
    }
    assert sent["summary"] == "The email 'reminder' went out (sandboxed)."


def test_the_explanation_speaks_german_by_header_or_parameter(
    client: FlaskClient, auth: dict[str, str], app: Any
) -> None:
    _walked_to_the_condition(client, auth, app)
    german = {**auth, "Accept-Language": "de-DE,de;q=0.9"}

    by_header = client.get("/api/v1/cases/INV-1/explanation", headers=german).json
    by_param = client.get("/api/v1/cases/INV-1/explanation?lang=de", headers=auth).json

    assert by_header == by_param and by_param["lang"] == "de"
    reasons = [r for i in by_param["items"] for r in i["reasons"]]
    assert (
        "Der offene Betrag war 612,40\xa0€, also traf die Bedingung „der offene Betrag über"
        " 100,00\xa0€ liegt“ zu." in reasons
    )


def test_the_explanation_pages_like_the_timeline(
    client: FlaskClient, auth: dict[str, str], app: Any
) -> None:
    _walked_to_the_condition(client, auth, app)

    first = client.get("/api/v1/cases/INV-1/explanation?limit=2", headers=auth).json
    rest = client.get(
        f"/api/v1/cases/INV-1/explanation?cursor={first['next_cursor']}", headers=auth
    ).json
    timeline = client.get("/api/v1/cases/INV-1/timeline", headers=auth).json["items"]

    assert [i["id"] for i in first["items"] + rest["items"]] == [i["id"] for i in timeline]
    assert rest["next_cursor"] is None


def test_the_explanation_refuses_bad_input_with_a_problem(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    _post(client, auth)

    unknown = client.get("/api/v1/cases/NOPE/explanation", headers=auth)
    bad_lang = client.get("/api/v1/cases/INV-1/explanation?lang=fr", headers=auth)
    bad_cursor = client.get("/api/v1/cases/INV-1/explanation?cursor=zzz", headers=auth)

    assert unknown.status_code == 404
    assert unknown.content_type.startswith("application/problem+json")
    assert (bad_lang.status_code, list(bad_lang.json["errors"])) == (422, ["lang"])
    assert (bad_cursor.status_code, list(bad_cursor.json["errors"])) == (422, ["cursor"])
