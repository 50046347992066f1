"""bench/daily_run.py's raw SQLite floor writes exactly the rows the engine writes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import daily_run  # noqa: E402

from engine.rules.compiler import CompiledJourney  # noqa: E402
from engine.run.runtime import Runtime  # noqa: E402
from engine.storage.audit_chain import verify  # noqa: E402
from engine.storage.db import Database  # noqa: E402

CASES = 400
# The rows a daily step writes, in an order that does not depend on the insert order.
SAME = (
    "SELECT id, node_id, status, outcome, timer_at, messages_sent, visits, due_at, updated_at, "
    "closed_at FROM cases ORDER BY id",
    "SELECT idempotency_key, case_id, version_id, node_id, channel, status, reason, template, "
    "tone, purpose, fallback_channel, payload, not_before, created_at, attempts FROM outbox "
    "ORDER BY idempotency_key",
    "SELECT at, case_id, version_id, node_id, kind, rule, detail, prev_hash, hash FROM audit "
    "ORDER BY case_id, at, hash",
)


def test_the_raw_floor_writes_the_engines_rows_with_a_valid_audit_chain(tmp_path: Path) -> None:
    doc = json.loads(daily_run.DEFAULT_JOURNEY.read_text(encoding="utf-8"))
    engine_file = tmp_path / "engine.sqlite"
    db = Database(f"sqlite:///{engine_file}")
    daily_run.build_portfolio(db, doc, CASES, seed=3)
    now = daily_run.enter_journeys(db, batch_size=100)
    with db.transaction() as session:
        compiled = session.execute(text("SELECT compiled FROM journey_versions")).scalar_one()
    db.dispose()
    with sqlite3.connect(engine_file) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    floor_file = tmp_path / "floor.sqlite"
    shutil.copyfile(engine_file, floor_file)

    db = Database(f"sqlite:///{engine_file}")
    report = Runtime(db, batch_size=100).tick(now)
    db.dispose()
    compiled = CompiledJourney.from_json(
        json.loads(compiled) if isinstance(compiled, str) else compiled
    )
    counts = daily_run.RawSqliteFloor(doc, compiled).run(floor_file, now, batch_size=100)

    assert report.cases == counts["cases"] == CASES
    assert report.transitions == counts["transitions"] == 2 * CASES
    with sqlite3.connect(engine_file) as a, sqlite3.connect(floor_file) as b:
        for query in SAME:
            engine_rows = a.execute(query).fetchall()
            assert engine_rows, query
            assert engine_rows == b.execute(query).fetchall(), query
    for written in (engine_file, floor_file):
        chained = Database(f"sqlite:///{written}")
        try:
            with chained.engine.connect() as connection:
                verdict = verify(connection)
            assert verdict.ok and verdict.rows > 3 * CASES and not verdict.unchained
        finally:
            chained.dispose()
