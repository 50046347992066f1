"""Time `mahnwerk audit verify` over N chained audit rows on SQLite.

Setup (timed apart): a fresh database made by the migrations, N audit rows over N/10 cases
written day by day (each day one row per case, as a daily tick writes them) through the
writers' own function (engine/storage/audit_chain.chain_values), in batches of 10,000.
Timed: `verify` over the whole trail, as the CLI runs it; wall and CPU seconds, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Run from a checkout without installing: the repo root holds the engine package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.run.bulk import insert_rows
from engine.storage.audit_chain import AUDIT, CHAINED, chain_values, verify
from engine.storage.db import Database

BATCH = 10_000
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


def build(db: Database, rows: int, per_case: int) -> float:
    """Write `rows` chained audit rows; returns the seconds it took."""
    cases = max(1, rows // per_case)
    began = time.perf_counter()
    written = 0
    day = 0
    while written < rows:
        stamp = (START + timedelta(days=day)).replace(tzinfo=None)
        for first in range(0, cases, BATCH):
            size = min(BATCH, cases - first, rows - written)
            if size <= 0:
                break
            batch = [
                (stamp, case, 1, f"n{day}", "transition", f"r{day}", {"day": day, "seen": {}})
                for case in range(first + 1, first + size + 1)
            ]
            with db.transaction() as session:
                connection = session.connection()
                insert_rows(connection, AUDIT, CHAINED, chain_values(connection, batch))
            written += size
        day += 1
    return time.perf_counter() - began


def main() -> None:
    """Build the trail, verify it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit rows to verify")
    parser.add_argument("--per-case", type=int, default=10, help="rows per case chain")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'audit.sqlite3'}")
        db.create_all()
        setup = build(db, args.rows, args.per_case)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with db.engine.connect() as connection:
            verdict = verify(connection)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        db.dispose()
    figures = {
        "rows": verdict.rows,
        "chains": verdict.chains,
        "ok": verdict.ok,
        "verify_s": round(wall, 2),
        "verify_cpu_s": round(cpu, 2),
        "rows_per_s": round(verdict.rows / wall),
        "setup_s": round(setup, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"audit verify: {figures['rows']:,} rows in {figures['chains']:,} chains, "
        f"{'intact' if verdict.ok else 'BROKEN'}: {wall:.1f} s ({cpu:.1f} s CPU, "
        f"{figures['rows_per_s']:,} rows/s); setup {setup:.0f} s; "
        f"peak RSS {figures['peak_rss_mb']} MB"
    )


if __name__ == "__main__":
    main()
