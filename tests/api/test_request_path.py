"""The request path under load: one write transaction per event, cached token checks, chunks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from api.auth import token_cache
from engine import Database, VirtualClock
from engine.intake.cases import CaseSchema
from engine.intake.events import record_event
from engine.intake.host_cases import (
    _schema_for,
    _with_defaults,
    bulk_upsert,
    bulk_upsert_chunked,
    record_host_event,
)
from engine.storage.api_models import ApiTokenRow
from engine.storage.models import AuditRow, CaseRow, EventRow
from mahnwerk_web.db import get_db
from tests.api.conftest import case_json


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The SQL SQLite runs for the app inside the block, by its first word (ORM and DBAPI alike)."""
    seen: list[str] = []

    def note(sql: str) -> None:
        words = sql.split()
        if words[0].upper() != "PRAGMA":
            seen.append(words[0].upper() + (" IMMEDIATE" if "IMMEDIATE" in sql else ""))

    def trace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(note)

    def untrace(dbapi_connection: Any, *_: Any) -> None:
        dbapi_connection.set_trace_callback(None)

    with app.app_context():
        engine = get_db().engine
    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)


def _pay(client: FlaskClient, auth: dict[str, str], event_id: str, **headers: str) -> Any:
    body = {
        "event_id": event_id,
        "type": "payment_received",
        "payload": {"amount": "1.00", "currency": "EUR"},
    }
    return client.post("/api/v1/cases/INV-1/events", json=body, headers={**auth, **headers})


@pytest.fixture
def case(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.post("/api/v1/cases", json=case_json(), headers=auth).status_code == 201


def test_an_event_is_one_short_write_transaction(
    app: Flask, client: FlaskClient, auth: dict[str, str], case: None
) -> None:
    with statements(app) as seen:
        assert _pay(client, auth, "e1").status_code == 202
    assert seen == ["BEGIN IMMEDIATE", "SAVEPOINT", "UPDATE", "INSERT", "RELEASE", "COMMIT"]


def test_an_idempotent_event_is_one_transaction_too(
    app: Flask, client: FlaskClient, auth: dict[str, str], case: None
) -> None:
    with statements(app) as seen:
        first = _pay(client, auth, "e1", **{"Idempotency-Key": "k1"})
        again = _pay(client, auth, "e1", **{"Idempotency-Key": "k1"})
    assert (first.status_code, again.headers["Idempotent-Replayed"]) == (202, "true")
    assert seen.count("BEGIN IMMEDIATE") == 2  # one per request


def test_token_checks_are_cached(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    client.get("/api/v1/cases", headers=auth)
    with statements(app) as seen:
        client.get("/api/v1/cases", headers=auth)
    assert seen == ["BEGIN IMMEDIATE", "SELECT", "COMMIT"]  # the list itself, no token lookup


def test_a_token_revoked_elsewhere_is_refused_once_the_cache_expires(
    app: Flask, client: FlaskClient, auth: dict[str, str], api_db: Database
) -> None:
    assert client.get("/api/v1/cases", headers=auth).status_code == 200
    with api_db.transaction() as session:  # as the CLI in another process would
        session.execute(update(ApiTokenRow).values(revoked_at=ApiTokenRow.created_at))
    assert client.get("/api/v1/cases", headers=auth).status_code == 200  # cached for seconds
    token_cache(app).seconds = 0
    assert client.get("/api/v1/cases", headers=auth).status_code == 401


def test_last_used_at_is_written_at_most_once_a_minute(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    def last_used() -> Any:
        with api_db.transaction() as session:
            return session.scalar(select(ApiTokenRow.last_used_at))

    client.get("/api/v1/cases", headers=auth)
    first = last_used()
    clock.advance(timedelta(seconds=30))
    client.get("/api/v1/cases", headers=auth)
    assert last_used() == first
    clock.advance(timedelta(seconds=31))
    client.get("/api/v1/cases", headers=auth)
    assert last_used() == first + timedelta(seconds=61)


def test_api_requests_skip_the_designer_sign_in(
    app: Flask, client: FlaskClient, auth: dict[str, str]
) -> None:
    response = client.get("/api/v1/cases", headers=auth)
    assert "Vary" not in response.headers and "Set-Cookie" not in response.headers


def test_the_docs_still_need_a_token_or_a_session(client: FlaskClient) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 401


@pytest.mark.parametrize("status", ["active", "held", "closed"])
def test_the_fast_event_path_stores_what_record_event_stores(
    api_db: Database, clock: VirtualClock, status: str
) -> None:
    from engine.intake.host_cases import bulk_upsert

    def stored(record: Any, prefix: str) -> tuple[Any, ...]:
        with api_db.transaction() as session:
            bulk_upsert(session, [case_json(external_id=prefix)], None, clock.now)
            session.execute(update(CaseRow).values(status=status))
            row, created = record(
                session, prefix, f"{prefix}-e", "promise_to_pay", {"date": "2026-04-01"}, clock.now
            )
            case = session.scalar(select(CaseRow).where(CaseRow.external_id == prefix))
            audits = session.scalars(select(AuditRow.kind).where(AuditRow.case_id == case.id))
            kept = session.scalar(select(EventRow).where(EventRow.event_id == f"{prefix}-e"))
            return (
                created,
                (row.type, row.payload, row.occurred_at, row.received_at, row.applied_at),
                (kept.type, kept.payload, kept.occurred_at, kept.received_at, kept.applied_at),
                case.due_at,
                list(audits),
            )

    assert stored(record_host_event, "FAST") == stored(record_event, "SLOW")


def test_a_repeated_event_id_goes_through_record_event(
    api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        bulk_upsert(session, [case_json()], None, clock.now)
        first, created = record_host_event(session, "INV-1", "e1", "dispute_opened", {}, clock.now)
        again, repeated = record_host_event(session, "INV-1", "e1", "dispute_opened", {}, clock.now)
    assert (created, repeated, again.id) == (True, False, first.id)


def test_chunks_give_the_same_results_as_one_pass(api_db: Database, clock: VirtualClock) -> None:
    items: list[Any] = [
        case_json(external_id="A"),
        case_json(external_id="B", amount="-1"),
        "not an object",
        case_json(external_id="A", debtor_name="again"),
        case_json(external_id="C", phone="12"),
        case_json(external_id="D", attributes={"segment": "b2b"}, reference="R-1"),
    ]
    with api_db.transaction() as session:
        bulk_upsert(session, [case_json(external_id="D")], None, clock.now)

    @contextmanager
    def transaction() -> Iterator[Any]:
        with api_db.transaction() as session:
            yield session

    chunked = bulk_upsert_chunked(transaction, items, None, clock.now, chunk_size=2)
    with api_db.transaction() as session:
        session.execute(CaseRow.__table__.delete().where(CaseRow.external_id != "D"))
        session.execute(
            update(CaseRow).values(attributes={}, reference=None)
        )  # as before the chunked run
    with api_db.transaction() as session:
        whole = bulk_upsert(session, items, None, clock.now)
    assert [(r.status, r.external_id, r.errors) for r in chunked] == [
        (r.status, r.external_id, r.errors) for r in whole
    ]
    assert [r.status for r in chunked] == [
        "created",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "updated",
    ]


@pytest.mark.parametrize(
    "raw",
    [
        case_json(),
        case_json(phone="+49 30 1234567", timezone="Europe/Berlin", amount_open="10.00"),
        case_json(attributes={"x": 1}, debtor_type="business", locale="de-DE"),
    ],
)
def test_a_chunk_loads_what_the_full_schema_loads(raw: dict[str, Any]) -> None:
    schema, defaults = _schema_for([raw])
    assert _with_defaults(schema.load(raw), defaults) == CaseSchema().load(raw)


def test_the_cache_vouches_only_for_fresh_tokens_whose_use_is_recorded(
    app: Flask, client: FlaskClient, auth: dict[str, str], clock: VirtualClock
) -> None:
    token = auth["Authorization"].removeprefix("Bearer ")
    cache = token_cache(app)
    assert cache.cached(token, clock.now) is None  # never read: the full path reads it
    client.get("/api/v1/cases", headers=auth)
    assert cache.cached(token, clock.now) is not None
    assert cache.cached(token, clock.now + timedelta(minutes=2)) is None  # last_used_at due
    cache.seconds = 0
    assert cache.cached(token, clock.now) is None  # stale
