"""Leader failover: `mahnwerk worker` processes on one PostgreSQL; the leader is killed.

The leader (engine/ops/leader.py: a session-level advisory lock) runs the jobs that walk one
shared cursor, the webhook emitter; tick and dispatch run on every worker. When the leader's
process dies, PostgreSQL ends its session and frees the lock, and the next worker to run its
webhook job takes it over and goes on emitting from where the cursor stood.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from engine import Database
from engine.ops.leader import LOCK_KEY
from engine.storage.api_models import WebhookCursorRow
from engine.storage.models import AuditRow
from tests.conftest import MONDAY
from tests.factories import example_doc, make_cases, publish

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
INTERVAL = 0.3  # seconds between each worker's tick, dispatch and webhook runs
LEADER = text(
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.objid = :key AND l.granted"
)


def start_worker(url: str, name: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`mahnwerk worker` as a user starts it, its connections named `name` in PostgreSQL."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"{url}{'&' if '?' in url else '?'}application_name={name}",
        "MAHNWERK_TICK_SECONDS": str(INTERVAL),
        "MAHNWERK_DISPATCH_SECONDS": str(INTERVAL),
        "MAHNWERK_INSTANCE": str(tmp_path / "instance"),
        "MAHNWERK_SECRET_KEY": "failover-test-" + "k" * 40,
    }
    log = (tmp_path / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "mahnwerk.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def leader(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return connection.execute(LEADER, {"key": LOCK_KEY}).scalar()


def wait_until(what: str, check, timeout: float = 30.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until `check()` holds; fails after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_another_worker_takes_over_the_webhook_emitter_when_the_leader_is_killed(
    pg_db: Database, tmp_path: Path
) -> None:
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, 20, due_date="2026-02-16")
    first = start_worker(pg_db.url, "worker-a", tmp_path)
    second = None
    try:
        wait_until("worker-a leads", lambda: leader(pg_db) == "worker-a")
        second = start_worker(pg_db.url, "worker-b", tmp_path)
        # worker-b runs its jobs (its tick and dispatch connections show up) but does not lead.
        wait_until("worker-b runs", lambda: _connected(pg_db, "worker-b"))
        time.sleep(5 * INTERVAL)
        assert leader(pg_db) == "worker-a" and second.poll() is None

        first.send_signal(signal.SIGKILL)
        first.wait(10)
        took = wait_until("worker-b takes over", lambda: leader(pg_db) == "worker-b")

        # The new leader emits what happens after the failover: cases opened now are advanced
        # by worker-b's tick and their audit rows read by its emitter.
        with pg_db.transaction() as session:
            make_cases(session, version, MONDAY, 5, due_date="2026-02-16")
        wait_until("the emitter reads the new audit rows", lambda: _emitted_all(pg_db))
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    assert took < 10 * INTERVAL + 2  # the next webhook run of the survivor, not a lease later


def _connected(db: Database, name: str) -> bool:
    with db.engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :n"), {"n": name}
        )
        return bool(found.scalar())


def _emitted_all(db: Database) -> bool:
    with db.transaction() as session:
        last = session.scalar(select(func.max(AuditRow.id)))
        cursor = session.get(WebhookCursorRow, "audit")
        transitions = session.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.kind == "transition")
        )
    return transitions == 25 * 3 and cursor is not None and cursor.last_id == last
