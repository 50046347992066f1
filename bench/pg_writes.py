"""Which way of writing a tick batch to PostgreSQL is fastest: rows per second by method.

One batch is what the daily run writes per 1,000 cases: 1,000 case UPDATEs by id (8 columns),
1,000 outbox INSERTs (15 columns) and 2,000 audit INSERTs (7 columns, JSON detail), one commit.
Methods: SQLAlchemy Core's executemany (the engine's path before issue 14), psycopg2's
execute_values, psycopg2 with one array per column and `unnest` (the engine's path now),
psycopg2 COPY for the inserts, and psycopg 3 (if installed) with unnest, COPY and executemany
in pipeline mode. Starts its own PostgreSQL with pgserver.

    .venv/bin/python bench/pg_writes.py [--batches 20] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daily_run import DEFAULT_JOURNEY, build_portfolio, pgserver_database
from sqlalchemy import bindparam, insert, make_url, update

from engine.storage.db import Database, dumps
from engine.storage.models import AuditRow, CaseRow, OutboxRow

BATCH = 1000
AT = datetime(2026, 1, 12, 14, 1)
VERSION = [0]  # the published version the portfolio belongs to
OUT_COLS = [
    "idempotency_key",
    "case_id",
    "version_id",
    "node_id",
    "channel",
    "status",
    "reason",
    "template",
    "tone",
    "purpose",
    "fallback_channel",
    "payload",
    "not_before",
    "created_at",
    "attempts",
]
OUT_TYPES = "text bigint int text text text text text int text text json timestamp timestamp int"
AUD_COLS = ["at", "case_id", "version_id", "node_id", "kind", "rule", "detail"]
AUD_TYPES = "timestamp bigint int text text text json"
CASE_COLS = [
    "id",
    "node_id",
    "status",
    "outcome",
    "timer_at",
    "messages_sent",
    "visits",
    "due_at",
    "updated_at",
]
CASE_TYPES = "bigint text text text timestamp int int timestamp timestamp"
DETAIL = {"rule": "r1", "from": "wait_7", "to": "reminder"}


def batch(b: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    ids = range(b * BATCH + 1, (b + 1) * BATCH + 1)
    due = AT + timedelta(days=7)
    v = VERSION[0]
    cases = [(i, "wait_pay", "active", None, due, 1, 3, due, AT) for i in ids]
    out = [
        (
            f"c{i}-v2-reminder",
            i,
            v,
            "reminder",
            "email",
            "pending",
            None,
            "t",
            1,
            "reminder",
            None,
            None,
            AT,
            AT,
            0,
        )
        for i in ids
    ]
    audit = [(AT, i, v, n, "transition", "r1", DETAIL) for i in ids for n in ("wait_7", "rem")]
    return cases, out, audit


def unnest_sql(table: str, cols: list[str], types: str) -> str:
    arrays = ", ".join(f"%s::{t}[]" for t in types.split())
    return f"INSERT INTO {table} ({', '.join(cols)}) SELECT * FROM unnest({arrays})"


UPDATE_UNNEST = (
    "UPDATE cases SET "
    + ", ".join(f"{c} = v.{c}" for c in CASE_COLS[1:])
    + " FROM unnest("
    + ", ".join(f"%s::{t}[]" for t in CASE_TYPES.split())
    + f") AS v({', '.join(CASE_COLS)}) WHERE cases.id = v.id"
)
UPDATE_VALUES = (
    "UPDATE cases SET "
    + ", ".join(f"{c} = v.{c}" for c in CASE_COLS[1:])
    + f" FROM (VALUES %s) AS v({', '.join(CASE_COLS)}) WHERE cases.id = v.id"
)
VALUES_TEMPLATE = "(" + ", ".join(f"%s::{t}" for t in CASE_TYPES.split()) + ")"


def columns(rows: list[tuple], json_at: int | None = None) -> list[list[Any]]:
    cols = [list(c) for c in zip(*rows, strict=True)]
    if json_at is not None:
        cols[json_at] = [None if v is None else dumps(v) for v in cols[json_at]]
    return cols


def jsonify(rows: list[tuple], at: int) -> list[tuple]:
    return [(*r[:at], None if r[at] is None else dumps(r[at]), *r[at + 1 :]) for r in rows]


def copy_text(rows: list[tuple]) -> io.StringIO:
    def field(v: Any) -> str:
        if v is None:
            return "\\N"
        if isinstance(v, dict):
            v = dumps(v)
        return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")

    return io.StringIO("".join("\t".join(map(field, r)) + "\n" for r in rows))


# -- the methods: each writes one batch on an open connection and commits ----------------------


def sqlalchemy_core(db: Database) -> Callable[[int], None]:
    cases, out, aud = CaseRow.__table__, OutboxRow.__table__, AuditRow.__table__

    def run(b: int) -> None:
        c, o, a = batch(b)
        with db.engine.begin() as conn:
            stmt = update(cases).where(cases.c.id == bindparam("b_id"))
            conn.execute(
                stmt.values({k: bindparam(k) for k in CASE_COLS[1:]}),
                [{"b_id": r[0], **dict(zip(CASE_COLS[1:], r[1:], strict=True))} for r in c],
            )
            conn.execute(insert(out), [dict(zip(OUT_COLS, r, strict=True)) for r in o])
            conn.execute(insert(aud), [dict(zip(AUD_COLS, r, strict=True)) for r in a])

    return run


def psycopg2_execute_values(db: Database) -> Callable[[int], None]:
    from psycopg2.extras import execute_values

    def run(b: int) -> None:
        c, o, a = batch(b)
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            execute_values(cur, UPDATE_VALUES, c, template=VALUES_TEMPLATE, page_size=BATCH)
            execute_values(
                cur, f"INSERT INTO outbox ({', '.join(OUT_COLS)}) VALUES %s", o, page_size=BATCH
            )
            execute_values(
                cur,
                f"INSERT INTO audit ({', '.join(AUD_COLS)}) VALUES %s",
                jsonify(a, 6),
                page_size=2 * BATCH,
            )
            raw.commit()
        finally:
            raw.close()

    return run


def psycopg2_unnest(db: Database) -> Callable[[int], None]:
    def run(b: int) -> None:
        c, o, a = batch(b)
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(UPDATE_UNNEST, columns(c))
            cur.execute(unnest_sql("outbox", OUT_COLS, OUT_TYPES), columns(o, 11))
            cur.execute(unnest_sql("audit", AUD_COLS, AUD_TYPES), columns(a, 6))
            raw.commit()
        finally:
            raw.close()

    return run


def psycopg2_copy(db: Database) -> Callable[[int], None]:
    def run(b: int) -> None:
        c, o, a = batch(b)
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(UPDATE_UNNEST, columns(c))
            cur.copy_expert(f"COPY outbox ({', '.join(OUT_COLS)}) FROM STDIN", copy_text(o))
            cur.copy_expert(f"COPY audit ({', '.join(AUD_COLS)}) FROM STDIN", copy_text(a))
            raw.commit()
        finally:
            raw.close()

    return run


def psycopg3(kind: str, url: str) -> Callable[[int], None]:
    import psycopg

    u = make_url(url)
    conn = psycopg.connect(
        dbname=u.database, user=u.username, host=u.query.get("host"), autocommit=False
    )

    def run(b: int) -> None:
        c, o, a = batch(b)
        with conn.cursor() as cur:
            cur.execute(UPDATE_UNNEST, columns(c))
            if kind == "unnest":
                cur.execute(unnest_sql("outbox", OUT_COLS, OUT_TYPES), columns(o, 11))
                cur.execute(unnest_sql("audit", AUD_COLS, AUD_TYPES), columns(a, 6))
            elif kind == "copy":
                for table, cols, rows in (("outbox", OUT_COLS, o), ("audit", AUD_COLS, a)):
                    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row([dumps(v) if isinstance(v, dict) else v for v in row])
            else:  # executemany, which psycopg 3 sends in pipeline mode
                marks = ", ".join(["%s"] * len(OUT_COLS))
                cur.executemany(f"INSERT INTO outbox ({', '.join(OUT_COLS)}) VALUES ({marks})", o)
                marks = ", ".join(["%s"] * len(AUD_COLS))
                cur.executemany(
                    f"INSERT INTO audit ({', '.join(AUD_COLS)}) VALUES ({marks})", jsonify(a, 6)
                )
        conn.commit()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20, help="batches of 1,000 cases each")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    methods: dict[str, Any] = {
        "sqlalchemy_executemany": lambda db, url: sqlalchemy_core(db),
        "psycopg2_execute_values": lambda db, url: psycopg2_execute_values(db),
        "psycopg2_unnest": lambda db, url: psycopg2_unnest(db),
        "psycopg2_unnest_copy": lambda db, url: psycopg2_copy(db),
    }
    try:
        import psycopg  # noqa: F401

        for kind in ("unnest", "copy", "executemany_pipeline"):
            methods[f"psycopg3_{kind}"] = lambda db, url, k=kind: psycopg3(k, url)
    except ImportError:
        print("psycopg 3 not installed: its methods are left out", file=sys.stderr)
    figures = {}
    n = BATCH * args.batches
    with tempfile.TemporaryDirectory(prefix="mahnwerk-pg-writes-") as tmp:  # noqa: SIM117
        with pgserver_database(Path(tmp)) as url:
            db = Database(url)
            doc = json.loads(DEFAULT_JOURNEY.read_text(encoding="utf-8"))
            VERSION[0] = build_portfolio(db, doc, n * len(methods), seed=1)
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
            for m, (name, make) in enumerate(methods.items()):
                run = make(db, url)  # each method writes its own range of cases
                start = time.perf_counter()
                for b in range(args.batches):
                    run(m * args.batches + b)
                seconds = time.perf_counter() - start
                figures[name] = round(n / seconds)
                print(f"{name:28} {figures[name]:>8,} case steps/s", file=sys.stderr)
            db.dispose()
    print(
        json.dumps(figures) if args.json else "\n".join(f"{k}: {v:,}" for k, v in figures.items())
    )


if __name__ == "__main__":
    main()
