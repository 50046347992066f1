"""PostgreSQL: the schema, the same results as SQLite, and workers that never share a case."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from engine import Database, Runtime, TickReport, VirtualClock, record_event
from engine.storage.models import AuditRow, CaseRow, OutboxRow
from tests.conftest import MONDAY, fresh_pg_database
from tests.factories import example_doc, make_case, make_cases, publish

pytestmark = pytest.mark.postgres


def test_migrations_create_the_schema_on_postgresql(pg_db: Database) -> None:
    tables = set(inspect(pg_db.engine).get_table_names())

    assert {"journeys", "journey_versions", "cases", "events", "outbox", "audit"} <= tables


def test_the_database_is_postgresql(pg_db: Database) -> None:
    assert (pg_db.engine.dialect.name, pg_db.is_sqlite) == ("postgresql", False)


# -- same portfolio, same results ------------------------------------------------------------

PORTFOLIO: list[dict[str, Any]] = [
    {
        "external_id": f"P-{i:03d}",
        "amount": ("50.00", "250.00", "99.99", "1200.00")[i % 4],
        "email": None if i % 7 == 0 else f"d{i}@example.org",
        "country": ("DE", "GB", "AT")[i % 3],
        "due_date": f"2026-02-{20 + i % 8:02d}",
    }
    for i in range(48)
]
# (day, case index, event type, payload)
EVENTS: list[tuple[int, int, str, dict[str, Any]]] = [
    (2, 1, "payment_received", {"amount": "250.00", "currency": "EUR"}),
    (3, 5, "payment_received", {"amount": "100.00", "currency": "EUR"}),
    (3, 9, "dispute_opened", {}),
    (12, 9, "dispute_resolved", {}),
    (4, 13, "cease_contact", {}),
    (6, 17, "insolvency", {}),
    (9, 21, "payment_received", {"amount": "30.00", "currency": "EUR"}),
    (9, 21, "payment_received", {"amount": "500.00", "currency": "EUR"}),
]


def run_portfolio(db: Database) -> dict[str, Any]:
    """Open the portfolio, tick daily for 40 days with the events, and read back the results."""
    clock = VirtualClock(MONDAY)
    with db.transaction() as session:
        version = publish(session, example_doc("minimal"), clock.now)
        for data in PORTFOLIO:
            make_case(session, version, clock.now, **data)
    runtime = Runtime(db)
    for day in range(40):
        for n, (when, index, kind, payload) in enumerate(EVENTS):
            if when == day:
                with db.transaction() as session:
                    record_event(
                        session,
                        PORTFOLIO[index]["external_id"],
                        f"ev-{n}",
                        kind,
                        payload,
                        clock.now,
                    )
        runtime.tick(clock.now)
        clock.advance(timedelta(days=1))
    return read_results(db)


def read_results(db: Database) -> dict[str, Any]:
    with db.transaction() as session:
        ids = {i: e for i, e in session.execute(select(CaseRow.id, CaseRow.external_id))}
        cases = {
            c.external_id: (c.node_id, c.status, c.outcome, c.hold_reason, c.amount_open, c.due_at)
            for c in session.scalars(select(CaseRow))
        }
        outbox = sorted(
            (ids[o.case_id], o.node_id, o.channel, o.status, o.reason, str(o.created_at))
            for o in session.scalars(select(OutboxRow))
        )
        audit = [
            (ids.get(a.case_id), a.kind, a.rule, a.node_id, str(a.at))
            for a in session.scalars(select(AuditRow).order_by(AuditRow.id))
        ]
    return {"cases": cases, "outbox": outbox, "audit": sorted(audit, key=str)}


@pytest.fixture(scope="module")
def sqlite_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('same') / 'mahnwerk.sqlite3'}")
    db.create_all()
    try:
        return run_portfolio(db)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def pg_results(pg_url: str) -> Iterator[dict[str, Any]]:
    with fresh_pg_database(pg_url) as url:
        db = Database(url)
        db.create_all()
        try:
            yield run_portfolio(db)
        finally:
            db.dispose()


def test_a_portfolio_ends_in_the_same_case_states_on_postgresql_as_on_sqlite(
    pg_results: dict[str, Any], sqlite_results: dict[str, Any]
) -> None:
    assert pg_results["cases"] == sqlite_results["cases"]


def test_a_portfolio_writes_the_same_outbox_on_postgresql_as_on_sqlite(
    pg_results: dict[str, Any], sqlite_results: dict[str, Any]
) -> None:
    assert pg_results["outbox"] == sqlite_results["outbox"]


def test_a_portfolio_writes_the_same_audit_trail_on_postgresql_as_on_sqlite(
    pg_results: dict[str, Any], sqlite_results: dict[str, Any]
) -> None:
    assert pg_results["audit"] == sqlite_results["audit"]


def test_the_portfolio_is_not_trivial(sqlite_results: dict[str, Any]) -> None:
    statuses = Counter(status for _, status, *_ in sqlite_results["cases"].values())

    assert set(statuses) == {"closed", "held", "stopped"} and len(sqlite_results["outbox"]) > 48


# -- two workers, one database ---------------------------------------------------------------

CASES = 2000


@pytest.fixture
def due_portfolio(pg_db: Database) -> Database:
    """2,000 cases due now whose first tick goes start -> wait_7 -> reminder -> wait_pay."""
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, CASES, due_date="2026-02-16")
    return pg_db


def tick_in_two_threads(db: Database) -> list[TickReport]:
    barrier = threading.Barrier(2)
    reports: list[TickReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        runtime = Runtime(db, batch_size=100)
        barrier.wait()
        try:
            reports.append(runtime.tick(MONDAY))
        except BaseException as exc:  # surfaced in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    return reports


def test_two_workers_never_advance_a_case_twice(due_portfolio: Database) -> None:
    tick_in_two_threads(due_portfolio)

    with due_portfolio.transaction() as session:
        per_case = Counter(
            session.scalars(select(AuditRow.case_id).where(AuditRow.kind == "transition"))
        )
    assert (len(per_case), set(per_case.values())) == (CASES, {3})


def test_two_workers_queue_one_message_per_case(due_portfolio: Database) -> None:
    tick_in_two_threads(due_portfolio)

    with due_portfolio.transaction() as session:
        rows = session.execute(
            select(func.count(), func.count(func.distinct(OutboxRow.case_id)))
        ).one()
    assert tuple(rows) == (CASES, CASES)


def test_two_workers_share_the_work(due_portfolio: Database) -> None:
    reports = tick_in_two_threads(due_portfolio)

    assert sum(r.cases for r in reports) == CASES
    assert all(r.cases > 0 for r in reports)
