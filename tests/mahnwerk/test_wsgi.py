"""The composed program: designer at /, host API at /api, each its own Flask app."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

import designer
from engine import Database, VirtualClock, add_user
from engine.access.api_tokens import create_token
from mahnwerk.wsgi import create_app


@pytest.fixture
def program(tmp_path: Path, clock: VirtualClock) -> tuple[Flask, str]:
    """The composed app on a fresh SQLite file, a staff user and a read token."""
    url = f"sqlite:///{tmp_path / 'program.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, "staff@example.org", "a long password", "manager", clock.now)
        token = create_token(session, "host", ["read"], clock.now)[1]
    db.dispose()
    config = {"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "s", "WTF_CSRF_ENABLED": False}
    return create_app(config), token


def test_the_api_answers_under_api_and_the_designer_everywhere_else(
    program: tuple[Flask, str],
) -> None:
    app, token = program
    client = app.test_client()
    answer = client.get("/api/v1/journeys", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert client.get("/api/v1/journeys").content_type == "application/problem+json"
    assert client.get("/journeys").status_code == 302  # the designer's sign-in


def test_the_designer_alone_has_no_api(tmp_path: Path) -> None:
    """The staff UI does not carry the host API (no sign-in or CSRF hooks to switch off)."""
    url = f"sqlite:///{tmp_path / 'staff.sqlite3'}"
    Database(url).create_all()
    app = designer.create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "s"})
    assert not [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api")]


def test_signed_in_staff_read_the_api_docs_without_a_token(program: tuple[Flask, str]) -> None:
    app, _ = program
    client = app.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 401
    signed_in = client.post(
        "/login", data={"email": "staff@example.org", "password": "a long password"}
    )
    assert signed_in.status_code == 302
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/cases").status_code == 401  # data still needs a token


def test_a_signed_out_session_no_longer_reads_the_api_docs(program: tuple[Flask, str]) -> None:
    app, _ = program
    client = app.test_client()
    client.post("/login", data={"email": "staff@example.org", "password": "a long password"})
    cookie = client.get_cookie("session")
    assert cookie is not None and client.get("/api/v1/openapi.json").status_code == 200
    client.post("/logout")
    copied = app.test_client()
    copied.set_cookie("session", cookie.value)
    assert copied.get("/api/v1/openapi.json").status_code == 401
