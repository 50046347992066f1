"""Faults a worker meets: an older schema, a clock that runs ahead, a connection lost mid-batch."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import func, select, text

from engine import Database, Runtime, Settings
from engine.ops import scheduler as scheduler_module
from engine.ops.scheduler import build_scheduler, shared_now
from engine.run import runtime as runtime_module
from engine.storage.migrate import SchemaOutdated, alembic_config, check_schema
from engine.storage.models import AuditRow, CaseRow
from mahnwerk.cli import main
from tests.conftest import MONDAY
from tests.factories import example_doc, make_cases, publish

# -- an older schema ---------------------------------------------------------------------------


def older_schema(url: str) -> Database:
    """A database migrated to the revision before the newest one."""
    db = Database(url)
    config = alembic_config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        command.downgrade(config, "-1")
    return db


def test_a_worker_refuses_an_older_schema_and_names_both_revisions(tmp_path: Path) -> None:
    db = older_schema(f"sqlite:///{tmp_path / 'old.sqlite3'}")

    with pytest.raises(SchemaOutdated) as refused:
        check_schema(db)

    assert "The database schema is at revision" in str(refused.value)
    assert "mahnwerk init" in str(refused.value)
    db.create_all()
    check_schema(db)  # migrated: it runs


def test_the_refusal_speaks_german(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")

    with pytest.raises(SchemaOutdated) as refused:
        check_schema(db, lang="de")

    assert "Datenbank" in str(refused.value) and "mahnwerk init" in str(refused.value)


def test_mahnwerk_worker_exits_with_the_message_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    older_schema(url).dispose()
    monkeypatch.setenv("DATABASE_URL", url)

    result = CliRunner().invoke(main, ["worker"])

    assert result.exit_code == 1
    assert "The database schema is at revision" in result.output
    assert "Worker started" not in result.output


@pytest.mark.postgres
def test_a_worker_refuses_an_older_postgres_schema(pg_database_url: str) -> None:
    db = older_schema(pg_database_url)
    try:
        with pytest.raises(SchemaOutdated):
            check_schema(db)
    finally:
        db.dispose()


# -- a clock that runs ahead -------------------------------------------------------------------


@pytest.mark.postgres
def test_a_worker_whose_clock_runs_ahead_cannot_step_a_case_early(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pg_db.clock()
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), real)
        make_cases(
            session, version, real, 3, due_date=(real - timedelta(days=1)).date().isoformat()
        )
    Runtime(pg_db).tick(real)  # the cases enter their journey and wait seven days
    ahead = real + timedelta(days=30)  # this host's clock, a month fast
    monkeypatch.setattr(scheduler_module, "utcnow", lambda: ahead)
    tick = next(j for j in build_scheduler(pg_db, Settings()).get_jobs() if j.id == "tick")

    assert abs(shared_now(pg_db) - real) < timedelta(minutes=1)  # the database's clock rules
    tick.func()

    with pg_db.transaction() as session:
        assert set(session.scalars(select(CaseRow.node_id))) == {"wait_7"}
    # The same tick at the fast clock's time would have moved them: the test can fail.
    assert Runtime(pg_db).tick(ahead).cases == 3


def test_on_sqlite_the_shared_clock_is_this_machines(db: Database) -> None:
    assert abs(shared_now(db) - db.clock()) < timedelta(seconds=5)


# -- a connection lost mid-batch ---------------------------------------------------------------


@pytest.mark.postgres
def test_a_lost_connection_rolls_back_that_batch_only_and_the_tick_reconnects(
    pg_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cases, batch = 50, 10
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, cases, due_date="2026-02-16")
    admin = Database(pg_db.url)
    written, killed = [], []
    original = runtime_module.write

    def write_then_lose_the_connection(session: Any, writes: Any, now: Any) -> None:
        original(session, writes, now)
        written.append(len(writes.cases))
        if len(written) == 3:  # the third batch's rows are written, not committed
            pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    monkeypatch.setattr(runtime_module, "write", write_then_lose_the_connection)
    with caplog.at_level(logging.WARNING):
        report = Runtime(pg_db, batch_size=batch).tick(MONDAY)
    admin.dispose()

    assert killed and "database connection lost mid-batch" in caplog.text
    assert report.cases == cases  # the lost batch counted once, when it was done again
    assert len(written) == cases // batch + 1  # one batch written twice: lost, then again
    with pg_db.transaction() as session:
        per_case = session.execute(
            select(AuditRow.case_id, func.count())
            .where(AuditRow.kind == "transition")
            .group_by(AuditRow.case_id)
        ).all()
        new_pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    # Due long ago: start -> wait_7 -> reminder -> wait_pay, each transition once.
    assert len(per_case) == cases and {n for _, n in per_case} == {3}
    assert new_pid != killed[0]


@pytest.mark.postgres
def test_a_connection_that_dies_in_the_pool_is_replaced_before_use(pg_db: Database) -> None:
    with pg_db.engine.connect() as connection:
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    with Database(pg_db.url).engine.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    with pg_db.transaction() as session:  # pre-ping: a fresh connection, no error
        assert session.connection().exec_driver_sql("SELECT 1").scalar_one() == 1
