"""API fixtures: the designer app with the API on a fresh SQLite file, tokens, a journey."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import designer
from designer.api import init_app
from engine import Database, VirtualClock
from engine.api_tokens import create_token
from tests.factories import example_doc, publish


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite file in the test's own directory."""
    return f"sqlite:///{tmp_path / 'api.sqlite3'}"


@pytest.fixture
def api_db(database_url: str, clock: VirtualClock) -> Iterator[Database]:
    """The app's database with the minimal journey published."""
    database = Database(database_url)
    database.create_all()
    with database.transaction() as session:
        publish(session, example_doc("minimal"), clock.now)
    yield database
    database.dispose()


@pytest.fixture
def app(api_db: Database, database_url: str, clock: VirtualClock) -> Flask:
    """The designer app with the API registered (the lead wires init_app into create_app)."""
    flask_app = designer.create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "API_SIMULATION_MAX_CASES": 5,
            "API_SIMULATION_MAX_DAYS": 2,
            "API_CLOCK": clock,
        }
    )
    init_app(flask_app)
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client without credentials."""
    return app.test_client()


def _token(db: Database, clock: VirtualClock, scopes: list[str]) -> str:
    with db.transaction() as session:
        return create_token(session, f"test {'+'.join(scopes)}", scopes, clock.now)[1]


@pytest.fixture
def write_token(api_db: Database, clock: VirtualClock) -> str:
    """A token with the write scope (which includes read)."""
    return _token(api_db, clock, ["write"])


@pytest.fixture
def read_token(api_db: Database, clock: VirtualClock) -> str:
    """A token with only the read scope."""
    return _token(api_db, clock, ["read"])


@pytest.fixture
def auth(write_token: str) -> dict[str, str]:
    """Headers of a write-scoped caller."""
    return {"Authorization": f"Bearer {write_token}"}


def case_json(**overrides: Any) -> dict[str, Any]:
    """A valid case body."""
    body: dict[str, Any] = {
        "external_id": "INV-1",
        "debtor_name": "Erika Mustermann",
        "email": "erika@example.org",
        "country": "DE",
        "currency": "EUR",
        "amount": "250.00",
        "due_date": "2026-03-02",
    }
    body.update(overrides)
    return body
