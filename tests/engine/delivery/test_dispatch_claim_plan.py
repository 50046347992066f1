"""The dispatcher's claim reads the due index in order and stops, at any queue length.

Before migration 0015_scale, PostgreSQL read every due message, joined all of them to their
cases and sorted them for each claim of 500 (4 s per claim at 150,000 pending messages, so a
day's dispatch grew with the square of its size). The plan is pinned here on 20,000 pending
messages: an ordered scan of `ix_outbox_due`, no sort, no sequential scan of the outbox, also
for a later claim of a run that starts behind the rows the run has looked at.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import event

from engine import Database
from engine.delivery.config import DeliveryConfig
from engine.delivery.dispatcher import Dispatcher
from tests.conftest import MONDAY
from tests.factories import example_doc, make_cases, publish

pytestmark = pytest.mark.postgres

QUEUED = 20_000


def plan_nodes(plan: dict[str, Any]) -> list[str]:
    """Every node of an EXPLAIN (FORMAT JSON) plan as 'type' or 'type on relation/index'."""
    found = [f"{plan['Node Type']} {plan.get('Index Name') or plan.get('Relation Name') or ''}"]
    for child in plan.get("Plans", []):
        found += plan_nodes(child)
    return [node.strip() for node in found]


def queue_messages(pg_db: Database) -> None:
    """20,001 cases, 20,000 of them with one pending message each, analyzed."""
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, 1)
    with pg_db.engine.begin() as connection:  # 20,000 cases, each with one pending message
        columns = [
            r[0]
            for r in connection.exec_driver_sql(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'cases' AND column_name NOT IN ('id', 'external_id') "
                "ORDER BY ordinal_position"
            )
        ]
        names = ", ".join(columns)
        connection.exec_driver_sql(
            f"INSERT INTO cases (external_id, {names}) SELECT 'Q-' || i, {names} "
            f"FROM cases, generate_series(1, {QUEUED}) i "
            "WHERE cases.id = (SELECT min(id) FROM cases)"
        )
        connection.exec_driver_sql(
            "INSERT INTO outbox (idempotency_key, case_id, version_id, node_id, channel, status, "
            "template, tone, purpose, not_before, created_at, attempts) "
            "SELECT 'q' || id, id, version_id, 'reminder', 'email', 'pending', 'reminder', 1, "
            "'reminder', :at, :at, 0 FROM cases WHERE left(external_id, 2) = 'Q-'".replace(
                ":at", f"'{MONDAY.replace(tzinfo=None).isoformat(' ')}'"
            )
        )
        connection.exec_driver_sql("ANALYZE cases")
        connection.exec_driver_sql("ANALYZE outbox")


def test_a_claim_scans_the_due_index_in_order_without_sorting_the_queue(pg_db: Database) -> None:
    queue_messages(pg_db)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT outbox.id"):
            statements.append((statement, params))

    event.listen(pg_db.engine, "before_cursor_execute", capture)
    dispatcher = Dispatcher(pg_db, config=DeliveryConfig(), batch_size=500)
    try:
        with pg_db.transaction() as session:
            due = dispatcher._due(session, MONDAY)
        with pg_db.transaction() as session:  # a later claim of the run starts behind the first
            last = max((m.not_before, m.id) for m, _ in due)
            later = dispatcher._due(session, MONDAY, {"pending": last})
    finally:
        event.remove(pg_db.engine, "before_cursor_execute", capture)
        dispatcher.close()

    assert len(due) == len(later) == 500 and len(statements) == 4
    assert min((m.not_before, m.id) for m, _ in later) > last
    with pg_db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        for statement, params in statements:
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
            raw = cursor.fetchone()[0]
            plan = (raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"]
            nodes = plan_nodes(plan)
            assert "Index Scan ix_outbox_due" in nodes, nodes
            assert not any(n.startswith("Sort") for n in nodes), nodes
            assert "Seq Scan outbox" not in nodes, nodes


def explain(pg_db: Database, statement: str, params: Any) -> list[str]:
    """The plan's nodes of one captured statement."""
    with pg_db.engine.connect() as connection:
        cursor = connection.connection.cursor()
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        raw = cursor.fetchone()[0]
    return plan_nodes((raw if isinstance(raw, list) else json.loads(raw))[0]["Plan"])


def test_the_guards_history_reads_by_index_not_every_case(pg_db: Database) -> None:
    """The persons' messages by the outbox's case index: a join with the cases was planned as
    a scan of every case per claim (the figure grew with the portfolio, and four workers spent
    the database's CPU on it)."""
    queue_messages(pg_db)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "outbox.case_id IN" in statement or "cases.debtor_id IN" in statement:
            statements.append((statement, params))

    dispatcher = Dispatcher(pg_db, config=DeliveryConfig(), batch_size=500)
    try:
        with pg_db.transaction() as session:
            due = dispatcher._due(session, MONDAY)
            event.listen(pg_db.engine, "before_cursor_execute", capture)
            dispatcher._history(session, due, MONDAY)
    finally:
        event.remove(pg_db.engine, "before_cursor_execute", capture)
        dispatcher.close()

    assert len(statements) == 1  # no debtors among them: their cases are known already
    nodes = explain(pg_db, *statements[0])
    assert not any(n.startswith("Seq Scan") for n in nodes), nodes
