"""Journeys: list, create, duplicate, import/export, save with problems, versions, diff, rules."""

from __future__ import annotations

import copy
import html
import io
import json
from typing import Any

from flask.testing import FlaskClient


def test_list_shows_journey_with_version_and_status(manager: FlaskClient, journey: Any) -> None:
    page = manager.get("/journeys").get_data(as_text=True)
    assert "Minimal reminder" in page and "v1" in page and "draft" in page


def test_create_makes_a_valid_first_version(manager: FlaskClient) -> None:
    response = manager.post("/journeys", data={"key": "fresh", "name": "Fresh"})
    assert response.headers["Location"] == "/journeys/fresh/v1"


def test_create_asks_language_currency_and_jurisdiction(manager: FlaskClient) -> None:
    data = {"key": "de-shop", "name": "Shop", "locale": "de", "currency": "eur"}
    manager.post("/journeys", data=data | {"jurisdiction": "DE"})
    doc = manager.get("/journeys/de-shop/v1/document").get_json()
    assert (doc["locale"], doc["currency"], doc["jurisdiction"]) == ("de", "EUR", "DE")
    # the starter template speaks the journey's language
    assert doc["templates"]["reminder"]["variants"][0]["locale"] == "de"
    assert "Guten Tag" in doc["templates"]["reminder"]["variants"][0]["body"]


def test_the_new_journey_form_offers_the_settings(manager: FlaskClient) -> None:
    page = manager.get("/journeys").get_data(as_text=True)
    for name in ("locale", "currency", "jurisdiction"):
        assert f'name="{name}"' in page
    assert '<option value="UK"' in page and '<option value="NONE"' in page


def test_a_name_of_only_spaces_is_a_field_error_that_keeps_the_entry(
    manager: FlaskClient,
) -> None:
    data = {"key": "spaces", "name": "   ", "locale": "de", "currency": "CHF"}
    response = manager.post("/journeys", data=data | {"jurisdiction": "NONE"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Give the journey a name (spaces alone are no name)." in page
    assert 'id="new-name-error"' in page and 'aria-invalid="true"' in page
    assert 'value="spaces"' in page and 'value="CHF"' in page  # nothing entered is lost
    assert '<option value="de" selected' in page
    assert manager.get("/journeys/spaces/v1").status_code == 404


def test_create_names_each_bad_setting(manager: FlaskClient) -> None:
    data = {"key": "Bad Key", "name": "x", "locale": "xx", "currency": "EURO"}
    page = manager.post("/journeys", data=data | {"jurisdiction": "MARS"}).get_data(as_text=True)
    for field in ("key", "locale", "currency", "jurisdiction"):
        assert f'id="new-{field}-error"' in page


def test_create_refuses_a_taken_key(manager: FlaskClient, journey: Any) -> None:
    manager.post("/journeys", data={"key": "minimal", "name": "Again"})
    assert manager.get("/journeys/minimal/v2").status_code == 404


def test_duplicate_copies_into_a_new_journey(manager: FlaskClient, journey: Any) -> None:
    manager.post("/journeys/minimal/duplicate", data={"new_key": "copy", "name": "Copy"})
    doc = manager.get("/journeys/copy/v1/document").get_json()
    assert (doc["key"], doc["name"], len(doc["nodes"])) == ("copy", "Copy", len(journey["nodes"]))


def test_export_offers_a_file(manager: FlaskClient, journey: Any) -> None:
    response = manager.get("/journeys/minimal/v1/document?download=1")
    assert "minimal-v1.json" in response.headers["Content-Disposition"]


def test_import_a_file_stores_the_next_version(manager: FlaskClient, journey: dict) -> None:
    upload = (io.BytesIO(json.dumps(journey).encode()), "minimal.json")
    response = manager.post("/journeys/import", data={"file": upload})
    assert response.headers["Location"] == "/journeys/minimal/v2"


def test_import_shows_problems(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey)
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "reminder"]
    response = manager.post("/journeys/import", data={"json": json.dumps(doc)})
    assert response.status_code == 422 and "reminder" in response.get_data(as_text=True)


def test_import_rejects_text_that_is_not_json(manager: FlaskClient) -> None:
    assert manager.post("/journeys/import", data={"json": "{nope"}).status_code == 422


def test_save_stores_a_new_draft_version(manager: FlaskClient, journey: dict) -> None:
    response = manager.post("/journeys/minimal/save", json=journey)
    assert response.get_json()["version"] == 2


def test_save_of_a_draft_changes_it_in_place(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey) | {"name": "Renamed"}
    response = manager.post("/journeys/minimal/save?version=1", json=doc)
    assert (response.status_code, response.get_json()["created"]) == (200, False)
    assert manager.get("/journeys/minimal/v1/document").get_json()["name"] == "Renamed"
    assert manager.get("/journeys/minimal/v2").status_code == 404


def test_editor_shows_the_problems_of_a_stored_draft(manager: FlaskClient, journey: dict) -> None:
    manager.post("/journeys/minimal/save?version=1", json=unwired(journey))
    page = manager.get("/journeys/minimal/v1").get_data(as_text=True)
    assert '"field": "port.next"' in page and '"node": "wait_14"' in page


def test_save_with_a_validation_error_keeps_the_draft_and_names_node_and_field(
    manager: FlaskClient, journey: dict
) -> None:
    doc = copy.deepcopy(journey)
    next(n for n in doc["nodes"] if n["id"] == "reminder")["params"]["template"] = "missing"
    response = manager.post("/journeys/minimal/save?version=1", json=doc)
    assert response.status_code == 200 and response.get_json()["version"] == 1
    stored = manager.get("/journeys/minimal/v1/document").get_json()
    assert next(n for n in stored["nodes"] if n["id"] == "reminder")["params"]["template"] == (
        "missing"
    )
    assert {"node": "reminder", "field": "template"} in [
        {"node": p["node"], "field": p["field"]} for p in response.get_json()["problems"]
    ]


def test_save_with_a_params_error_names_the_params_field(
    manager: FlaskClient, journey: dict
) -> None:
    doc = copy.deepcopy(journey)
    next(n for n in doc["nodes"] if n["id"] == "closed")["params"] = {}
    problems = manager.post("/journeys/minimal/save", json=doc).get_json()["problems"]
    assert ("closed", "params.outcome") in [(p["node"], p["field"]) for p in problems]


def test_save_of_a_dangling_port_names_the_port(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey)
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    problems = manager.post("/journeys/minimal/save", json=doc).get_json()["problems"]
    assert ("wait_14", "port.next") in [(p["node"], p["field"]) for p in problems]


def test_save_keeps_the_journey_of_the_url(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey) | {"key": "elsewhere"}
    manager.post("/journeys/minimal/save", json=doc)
    assert manager.get("/journeys/minimal/v2").status_code == 200


def test_save_refuses_a_body_that_is_not_a_document(manager: FlaskClient, journey: Any) -> None:
    assert manager.post("/journeys/minimal/save", json=[1, 2]).status_code == 400


def test_check_returns_problems_without_saving(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey)
    doc["edges"] = []
    manager.post("/journeys/check", json=doc)
    assert manager.get("/journeys/minimal/v2").status_code == 404


def test_ports_follow_the_params(manager: FlaskClient) -> None:
    params = {"branches": [{"port": "big", "when": []}]}
    ports = manager.post("/journeys/ports", json={"type": "condition", "params": params})
    assert [p["name"] for p in ports.get_json()["ports"]] == ["big", "else"]


def test_layout_places_every_node(manager: FlaskClient, journey: dict) -> None:
    positions = manager.post("/journeys/layout", json=journey).get_json()["positions"]
    assert set(positions) == {n["id"] for n in journey["nodes"]}


def test_editor_embeds_the_document_and_the_palette(manager: FlaskClient, journey: Any) -> None:
    page = manager.get("/journeys/minimal/v1").get_data(as_text=True)
    assert 'id="journey-data"' in page and 'data-type="wait_event"' in page


def test_editor_partial_is_not_served_for_unknown_version(manager: FlaskClient) -> None:
    assert manager.get("/journeys/minimal/v9").status_code == 404


def test_versions_lists_every_version(manager: FlaskClient, journey: dict) -> None:
    manager.post("/journeys/minimal/save", json=journey)
    page = manager.get("/journeys/minimal/versions").get_data(as_text=True)
    assert "v1" in page and "v2" in page


def test_diff_lists_a_changed_param(manager: FlaskClient, journey: dict) -> None:
    doc = copy.deepcopy(journey)
    next(n for n in doc["nodes"] if n["id"] == "wait_14")["params"]["days"] = 21
    manager.post("/journeys/minimal/save", json=doc)
    page = manager.get("/journeys/minimal/diff?a=1&b=2").get_data(as_text=True)
    assert "params.days" in page and '"wait_14": "changed"' in page


def test_diff_for_htmx_returns_only_the_list(manager: FlaskClient, journey: Any) -> None:
    response = manager.get("/journeys/minimal/diff?a=1&b=1", headers={"HX-Request": "true"})
    assert "<html" not in response.get_data(as_text=True)


def test_rules_shows_journey_and_policy_sentences(manager: FlaskClient, journey: Any) -> None:
    page = manager.get("/journeys/minimal/v1/rules").get_data(as_text=True)
    assert "When a case" in page and "At any step" in page


# A German user sees the engine's problems and rules in German.


def german(client: FlaskClient) -> FlaskClient:
    """The signed-in client with German chosen as the UI language."""
    client.post("/lang/de")
    return client


def unwired(journey: dict) -> dict:
    """The journey with the last wait's way out removed."""
    doc = copy.deepcopy(journey)
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    return doc


def test_check_shows_german_problems_to_a_german_user(manager: FlaskClient, journey: dict) -> None:
    problems = german(manager).post("/journeys/check", json=unwired(journey)).get_json()["problems"]

    assert {
        "message": "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden.",
        "node": "wait_14",
        "field": "port.next",
        "severity": "error",
        "code": None,  # a compliance finding's rule id and grade; none for a wiring problem
        "grade": None,
    } in problems


def test_save_answers_with_german_problems_for_a_german_user(
    manager: FlaskClient, journey: dict
) -> None:
    doc = copy.deepcopy(journey)
    next(n for n in doc["nodes"] if n["id"] == "closed")["params"] = {}

    response = german(manager).post("/journeys/minimal/save", json=doc)

    assert response.status_code == 201
    assert ("closed", "params.outcome", "Diese Angabe fehlt.") in [
        (p["node"], p["field"], p["message"]) for p in response.get_json()["problems"]
    ]


def test_check_stays_english_for_an_english_user(manager: FlaskClient, journey: dict) -> None:
    problems = manager.post("/journeys/check", json=unwired(journey)).get_json()["problems"]

    assert "The 'Next' way is not connected to a next step." in [p["message"] for p in problems]


def test_import_page_shows_german_problems(manager: FlaskClient, journey: dict) -> None:
    response = german(manager).post("/journeys/import", data={"json": json.dumps(unwired(journey))})

    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden." in page


def test_rules_page_shows_german_sentences_to_a_german_user(
    manager: FlaskClient, journey: Any
) -> None:
    page = html.unescape(german(manager).get("/journeys/minimal/v1/rules").get_data(as_text=True))

    assert (
        "Wenn ein Fall bei 'Large amount?' ankommt und der offene Betrag über 100,00\xa0€ liegt, "
        "geht er weiter zu 'Second reminder'." in page
    )
    assert "In jedem Schritt: Wenn eine Zahlung nichts mehr offen lässt" in page
    assert "When a case" not in page


def test_ports_carry_german_labels_for_a_german_user(manager: FlaskClient) -> None:
    body = {"type": "wait_event", "params": {"events": ["payment_received"], "timeout_days": 7}}

    found = german(manager).post("/journeys/ports", json=body).get_json()["ports"]

    assert found == [
        {"name": "payment_received", "label": "eine Zahlung eingeht"},
        {"name": "timeout", "label": "Frist abgelaufen"},
    ]
