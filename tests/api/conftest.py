"""API fixtures: the designer app with the API on a fresh SQLite file, tokens, a journey."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

import api
from engine import Database, VirtualClock
from engine.access.api_tokens import create_token
from engine.storage.api_models import IdempotencyRow
from engine.storage.models import CaseRow, EventRow
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
    """The host API's own app."""
    return api.create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "API_SIMULATION_MAX_CASES": 5,
            "API_SIMULATION_MAX_DAYS": 2,
            "API_CLOCK": clock,
        }
    )


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


def twin_app(path: Path, clock: VirtualClock, hot: bool = True) -> tuple[Flask, dict[str, str]]:
    """An app with the API on its own database, as every twin is set up: the same rows, ids and
    tokens (write and read), cases INV-1 (active) and CLOSED (closed), the token cache warm."""
    url = f"sqlite:///{path}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        publish(session, example_doc("minimal"), clock.now)
        tokens = {s: create_token(session, s, [s], clock.now)[1] for s in ("write", "read")}
    db.dispose()
    # The token cache trusts a token for API_TOKEN_CACHE_SECONDS of wall-clock time (1 s by
    # default); on a loaded machine the twins' requests took longer than that, and a request
    # the cache no longer vouched for went on to Flask: same answer, one fewer hot-path count.
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "SECRET_KEY": "t",
        "API_CLOCK": clock,
        "API_TOKEN_CACHE_SECONDS": 3600,
    }
    app = api.create_app({**config, "API_HOT_PATH": hot})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['write']}"}
    for ext in ("INV-1", "CLOSED"):
        assert (
            client.post("/api/v1/cases", json=case_json(external_id=ext), headers=auth).status_code
            == 201
        )
    db = Database(url)
    with db.transaction() as session:  # as a tick leaves a case it closed
        session.execute(
            update(CaseRow).where(CaseRow.external_id == "CLOSED").values(status="closed")
        )
    db.dispose()
    for token in tokens.values():  # the token cache knows both tokens now
        client.get("/api/v1/journeys", headers={"Authorization": f"Bearer {token}"})
    return app, tokens


def stored_rows(app: Flask) -> list[Any]:
    """Events, cases and Idempotency-Key records as the app's database holds them."""
    db = Database(app.config["DATABASE_URL"])
    with db.transaction() as session:
        events = session.execute(
            select(
                EventRow.event_id,
                EventRow.case_id,
                EventRow.type,
                EventRow.payload,
                EventRow.occurred_at,
                EventRow.received_at,
                EventRow.applied_at,
            ).order_by(EventRow.event_id)
        ).all()
        cases = session.execute(
            select(CaseRow.external_id, CaseRow.due_at, CaseRow.status).order_by(CaseRow.id)
        ).all()
        keys = session.execute(
            select(
                IdempotencyRow.token_id,
                IdempotencyRow.key,
                IdempotencyRow.request_hash,
                IdempotencyRow.path,
                IdempotencyRow.status_code,
                IdempotencyRow.response,
                IdempotencyRow.created_at,
            ).order_by(IdempotencyRow.id)
        ).all()
    db.dispose()
    return [events, cases, keys]
