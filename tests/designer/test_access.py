"""Who may see and change what: anonymous users sign in first, viewers never save."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.designer.conftest import login

PAGES = [
    "/journeys",
    "/journeys/import",
    "/journeys/minimal/v1",
    "/journeys/minimal/v1/rules",
    "/journeys/minimal/v1/templates",
    "/journeys/minimal/v1/document",
    "/journeys/minimal/versions",
    "/journeys/minimal/diff?a=1&b=1",
    "/cases",
    "/outbox",
]
SAVES = [
    ("/journeys", {"data": {"key": "x", "name": "X"}}),
    ("/journeys/import", {"data": {"json": "{}"}}),
    ("/journeys/minimal/duplicate", {"data": {"new_key": "copy"}}),
    ("/journeys/minimal/save", {"json": {"key": "minimal"}}),
    (
        "/journeys/minimal/v1/templates/save",
        {"data": {"template": "reminder", "locale": "en-GB", "tone": "1", "body": "Hi"}},
    ),
]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_is_sent_to_login(client: FlaskClient, journey: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("url", "body"), SAVES)
def test_anonymous_cannot_save(client: FlaskClient, journey: Any, url: str, body: dict) -> None:
    assert client.post(url, **body).status_code == 302


@pytest.mark.parametrize("url", PAGES)
def test_viewer_can_read(viewer: FlaskClient, journey: Any, url: str) -> None:
    assert viewer.get(url).status_code == (403 if url == "/journeys/import" else 200)


@pytest.mark.parametrize(("url", "body"), SAVES)
def test_viewer_cannot_save(viewer: FlaskClient, journey: Any, url: str, body: dict) -> None:
    assert viewer.post(url, **body).status_code == 403


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_editors_can_save(client: FlaskClient, journey: dict, role: str) -> None:
    login(client, role)
    assert client.post("/journeys/minimal/save", json=journey).status_code == 201


def test_reviewer_cannot_save(client: FlaskClient, journey: dict) -> None:
    login(client, "reviewer")
    assert client.post("/journeys/minimal/save", json=journey).status_code == 403


def test_viewer_cannot_simulate(viewer: FlaskClient, journey: Any) -> None:
    assert viewer.post("/journeys/minimal/v1/simulate", data={"cases": 1}).status_code == 403


def test_wrong_password_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "manager@example.org", "password": "nope"})
    assert response.status_code == 401


def test_login_does_not_redirect_off_site(client: FlaskClient) -> None:
    response = client.post(
        "/login?next=//evil.example/",
        data={"email": "manager@example.org", "password": "correct-horse-battery"},
    )
    assert response.headers["Location"] == "/journeys"


def test_logout_ends_the_session(manager: FlaskClient) -> None:
    manager.post("/logout")
    assert manager.get("/journeys").status_code == 302


def test_viewer_sees_no_save_button(viewer: FlaskClient, journey: Any) -> None:
    assert b'id="btn-save"' not in viewer.get("/journeys/minimal/v1").data


# Issue 16, point 16: a refused page is the designer's own, not Werkzeug's bare 403.
def test_a_refused_page_is_styled_and_says_why(viewer: FlaskClient) -> None:
    response = viewer.get("/journeys/import")
    page = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "css/app.css" in page and "Not allowed" in page
    assert "Your role cannot open this page or take this step." in page
    assert 'href="/journeys"' in page


def test_a_refused_json_request_answers_json(viewer: FlaskClient, journey: dict) -> None:
    response = viewer.post("/journeys/minimal/save", json=journey)
    assert response.status_code == 403
    assert response.get_json()["ok"] is False


def test_a_refused_page_reads_in_german(viewer: FlaskClient) -> None:
    viewer.post("/lang/de")
    assert "Nicht erlaubt" in viewer.get("/journeys/import").get_data(as_text=True)


def test_every_page_has_a_favicon_and_links_the_api_docs(manager: FlaskClient) -> None:
    page = manager.get("/journeys").get_data(as_text=True)
    assert 'rel="icon"' in page and "favicon.svg" in page
    assert 'href="/api/v1/docs"' in page
    assert manager.get("/favicon.ico").headers["Location"].endswith("/static/favicon.svg")
    assert manager.get("/static/favicon.svg").status_code == 200
