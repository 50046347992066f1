"""Bad input answers a problem naming the field, never a 500 (issue 15, point 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.api.conftest import case_json

DEEP_LIST = "[" * 1000 + "]" * 1000
DEEP_OBJECT = '{"a":' * 1000 + "1" + "}" * 1000


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT])
@pytest.mark.parametrize(
    "path",
    ["/api/v1/cases", "/api/v1/cases/bulk", "/api/v1/cases/INV-1/events", "/api/v1/events/bulk"],
)
def test_json_nested_1000_deep_is_a_400(
    client: FlaskClient, auth: dict[str, str], path: str, body: str
) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 400
    assert "nested more than 64 levels" in response.json["errors"]["_schema"][0]


def _post(client: FlaskClient, auth: dict[str, str], body: Any, path: str = "/api/v1/cases") -> Any:
    headers = {**auth, "Content-Type": "application/json"}
    return client.post(path, data=json.dumps(body), headers=headers)


@pytest.mark.parametrize(("text", "words"), [("\ud800", "lone surrogate"), ("a\x00b", "NUL")])
def test_text_that_cannot_be_stored_is_named(
    client: FlaskClient, auth: dict[str, str], text: str, words: str
) -> None:
    response = _post(client, auth, case_json(debtor_name=text))
    assert (response.status_code, list(response.json["errors"])) == (422, ["debtor_name"])
    assert words in response.json["errors"]["debtor_name"][0]
    event = {"event_id": "e1", "type": "payment_received", "payload": {"note": text}}
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    response = _post(client, auth, event, "/api/v1/cases/INV-1/events")
    assert (response.status_code, list(response.json["errors"])) == (422, ["payload.note"])


def test_a_bulk_request_keeps_its_good_rows(client: FlaskClient, auth: dict[str, str]) -> None:
    """A NUL in one item refuses that item's field; the good items are stored."""
    items = [case_json(external_id="OK-1"), case_json(external_id="BAD", city="x\x00y")]
    response = _post(client, auth, {"cases": items}, "/api/v1/cases/bulk")
    assert response.status_code < 500, response.json
    results = response.json["results"]
    assert results[0]["status"] != "invalid"
    assert "city" in json.dumps(results[1])
    assert client.get("/api/v1/cases/OK-1", headers=auth).status_code == 200
    assert client.get("/api/v1/cases/BAD", headers=auth).status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("external_id", "A/B", "cannot contain '/'"),
        ("currency", "XYZ", "ISO 4217"),
        ("due_date", "9999-12-31", "due date from 1900-01-01 to 2199-12-31"),
        ("due_date", "0001-01-01", "due date from"),
    ],
)
def test_case_fields_out_of_range_are_named(
    client: FlaskClient, auth: dict[str, str], field: str, value: str, words: str
) -> None:
    response = _post(client, auth, case_json(**{field: value}))
    assert (response.status_code, list(response.json["errors"])) == (422, [field])
    assert words in response.json["errors"][field][0]


def test_a_50_mb_body_is_a_413_problem(client: FlaskClient, auth: dict[str, str]) -> None:
    headers = {**auth, "Content-Type": "application/json"}
    for path in ("/api/v1/cases/bulk", "/api/v1/cases/INV-1/events"):
        response = client.post(path, data=b"x" * (50 * 1024 * 1024), headers=headers)
        assert (response.status_code, response.mimetype) == (413, "application/problem+json")
