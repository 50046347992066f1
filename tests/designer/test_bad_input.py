"""Bad input to the designer answers in words, never a 500 (issue 15, point 9)."""

from __future__ import annotations

import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from designer import create_app
from engine import Database, add_user, utcnow
from mahnwerk_web.db import get_db
from tests.designer.conftest import PASSWORD, email, login
from tests.factories import example_doc

DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("route", ["/journeys/check", "/journeys/layout", "/journeys/ports"])
def test_json_nested_1000_deep_is_no_500(manager: FlaskClient, route: str) -> None:
    response = manager.post(route, data=DEEP, content_type="application/json")
    assert response.status_code < 500


def test_the_check_names_a_deep_document_and_a_lone_surrogate(manager: FlaskClient) -> None:
    deep = manager.post("/journeys/check", data=DEEP, content_type="application/json").json
    assert "nested more than 64 levels" in deep["problems"][0]["message"]
    body = '{"name": "\\ud800"}'
    lone = manager.post("/journeys/check", data=body, content_type="application/json").json
    assert (lone["problems"][0]["field"], "lone surrogate" in lone["problems"][0]["message"]) == (
        "name",
        True,
    )


def test_a_deep_import_is_a_422(manager: FlaskClient) -> None:
    response = manager.post("/journeys/import", data={"json": DEEP})
    assert response.status_code == 422
    assert "nested more than 64 levels" in response.get_data(as_text=True)


@pytest.mark.parametrize("version", [0, -1])
def test_schema_version_below_1_is_named(manager: FlaskClient, version: int) -> None:
    doc = {**example_doc("minimal"), "schema_version": version}
    answer = manager.post("/journeys/check", json=doc).json
    assert [(p["field"], p["message"]) for p in answer["problems"]] == [
        ("schema_version", f"Version {version} does not exist: schema versions start at 1.")
    ]


def test_auto_arrange_takes_a_10000_step_chain(manager: FlaskClient) -> None:
    nodes = [{"id": f"n{i}", "type": "start" if i == 0 else "wait"} for i in range(10_000)]
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(9_999)]
    started = time.perf_counter()
    response = manager.post("/journeys/layout", json={"nodes": nodes, "edges": edges})
    assert response.status_code == 200 and time.perf_counter() - started < 10
    assert response.json["positions"]["n9999"]["x"] > response.json["positions"]["n9998"]["x"]


def test_a_50_mb_body_is_refused(app: Flask, manager: FlaskClient) -> None:
    body = b"x" * (50 * 1024 * 1024)
    response = manager.post("/journeys/check", data=body, content_type="application/json")
    assert response.status_code == 413


@pytest.mark.parametrize("body", ["1.5", "[1]", '"x"', "null"])
def test_ports_takes_a_body_that_is_no_object(manager: FlaskClient, body: str) -> None:
    """Found by the fuzz test: a number as the body was a 500."""
    response = manager.post("/journeys/ports", data=body, content_type="application/json")
    assert (response.status_code, response.json) == (200, {"ports": []})


def test_the_check_names_an_unknown_template_filter(manager: FlaskClient) -> None:
    # Issue 15, point 9a: was a 500.
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][1]["html"] = "<p>{{ reference|nosuchfilter }}</p>"
    response = manager.post("/journeys/check", json=doc)
    assert response.status_code == 200
    assert [(p["field"], p["message"]) for p in response.json["problems"]] == [
        (
            "templates.reminder.en-GB.tone2.html",
            "Template 'reminder' (email, en-GB, tone 2) of journey 'minimal': "
            "unknown filter 'nosuchfilter' on line 1.",
        )
    ]


# Issue 15, point 9e: NUL and lone surrogates in form fields failed only at PostgreSQL (a 500).
NUL_NAME = b"key=nul-journey&name=Mahn%00lauf"


def test_a_nul_in_a_form_field_is_refused_naming_the_field(
    app: Flask, manager: FlaskClient
) -> None:
    response = manager.post(
        "/journeys", data=NUL_NAME, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 422
    assert "Field &#39;name&#39;: This text holds a NUL character" in response.get_data(True)
    assert manager.get("/journeys/nul-journey").status_code == 404


def test_a_nul_in_a_search_answers_htmx_with_the_field_error(manager: FlaskClient) -> None:
    response = manager.get("/cases?q=INV%00", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.get_data(True) == (
        '<p class="error" role="alert">Field &#39;q&#39;: This text holds a NUL character '
        "(\\u0000), which cannot be stored.</p>"
    )


def test_the_field_error_reads_in_german(manager: FlaskClient) -> None:
    manager.post("/lang/de")
    response = manager.post(
        "/journeys", data=NUL_NAME, content_type="application/x-www-form-urlencoded"
    )
    assert "Feld &#39;name&#39;: Dieser Text enthält ein NUL-Zeichen" in response.get_data(True)


def test_a_lone_surrogate_is_named_by_the_same_check(app: Flask) -> None:
    from designer.forms import unstorable

    with app.test_request_context():
        found = unstorable([("ok", "fine"), ("description", "a\ud800b")])
    assert found is not None and found.startswith("Field 'description': This text is not valid")


@pytest.mark.postgres
def test_a_nul_in_a_form_field_is_no_500_on_postgresql(pg_db: Database) -> None:
    with pg_db.transaction() as session:
        add_user(session, email("manager"), PASSWORD, "manager", utcnow())
    pg_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "WTF_CSRF_ENABLED": False,
            "DATABASE_URL": pg_db.url,
        }
    )
    try:
        client = login(pg_app.test_client(), "manager")
        response = client.post(
            "/journeys", data=NUL_NAME, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code == 422
        assert client.get("/cases?q=INV%00").status_code == 422
    finally:
        with pg_app.app_context():
            get_db().dispose()
