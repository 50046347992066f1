"""Time one daily run over a large portfolio, against the bare SQL floor of the same work.

Setup (not timed): a fresh database, a published journey version, N open cases bulk-inserted,
one tick so every case enters its first wait, and the clock set to when that wait is over for
all of them. Timed: `Runtime(db).tick(now)` advancing every due case (rules, SQL, outbox,
audit). The floor writes the same rows on a copy of the same state, the fastest way measured
for its database: on SQLite the bare sqlite3 driver (`RawSqliteFloor`: the same case columns,
outbox rows and hash-chained audit rows, one prepared executemany per table, one commit per
batch); on PostgreSQL set-based SQL on the driver (`pg_floor_write`). On SQLite the engine's
own SQL path without rules (`Floor`) is timed too, as the "engine-path floor".

Debtors (issue 17): `--cases-per-debtor K` gives the cases debtors, K cases each on average
(1 + a geometric number, so most have one to three and some many), and `--dispatch` also
times the sandbox dispatcher sending what the run queued: its guard reads each person's
history, every message to any case of the debtor, in one query per batch. Run it with K = 1
and K = 3 to compare a book of one case per person with one of three.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# Run from a checkout without installing: the repo root holds the engine package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, make_url, select, text

from engine.authoring.versions import save_version
from engine.core.case_status import OPEN_STATUSES
from engine.core.clock import naive_utc
from engine.core.jurisdictions import case_time_zone
from engine.delivery.sandbox import SandboxDispatcher
from engine.intake.cases import case_values
from engine.rules.compiler import CompiledJourney
from engine.run.bulk import insert_rows, sqlite_datetime, update_rows
from engine.run.runtime import Runtime
from engine.run.store import (
    AUDIT_COLUMNS,
    CLAIMED,
    OUTBOX_COLUMNS,
    AuditValues,
    audit_values,
    claim_due,
    claimed_value,
    outbox_values,
)
from engine.simulation import debtor_spread
from engine.storage.audit_chain import CHAINED, canonical
from engine.storage.db import Database, dumps
from engine.storage.models import AuditRow, CaseRow, DebtorRow, OutboxRow

# The case columns a two-step advance changes, as the engine writes them.
FLOOR_CASE_COLUMNS = (
    "id",
    "node_id",
    "status",
    "outcome",
    "timer_at",
    "messages_sent",
    "visits",
    "due_at",
    "updated_at",
)

try:
    import psutil
except ImportError:  # optional: ru_maxrss alone is enough for the target
    psutil = None

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JOURNEY = ROOT / "journeys_examples" / "minimal.json"
CHUNK = 10_000
DUE_DATE = date(2026, 1, 5)  # a Monday; every case falls due the same day
SETUP_AT = datetime(2026, 1, 6, 6, 0, tzinfo=UTC)  # D+1: the cases open and enter their journey
COUNTRIES = ("DE", "DE", "DE", "AT", "CH", "FR", "GB", "US")  # a European book with some US
CASES = CaseRow.__table__
OUTBOX = OutboxRow.__table__
AUDIT = AuditRow.__table__


def progress(message: str) -> None:
    """Setup progress goes to stderr so --json output stays one clean object."""
    print(f"[daily_run] {message}", file=sys.stderr, flush=True)


# -- setup ------------------------------------------------------------------------------------


def case_data(i: int, rng: random.Random) -> dict[str, Any]:
    """One synthetic case as loaded data (CaseSchema's output form)."""
    country = COUNTRIES[i % len(COUNTRIES)]
    return {
        "external_id": f"BENCH-{i:08d}",
        "debtor_name": f"Debtor {i}",
        "debtor_type": "business" if rng.random() < 0.1 else "consumer",
        "email": f"debtor{i}@example.org" if rng.random() < 0.9 else None,
        "phone": "+4915112345678" if rng.random() < 0.7 else None,
        "street": f"Musterweg {i % 200 + 1}",
        "postcode": "10115",
        "city": "Berlin",
        "country": country,
        "timezone": case_time_zone(country),
        "currency": "USD" if country == "US" else "EUR",
        "amount": Decimal(str(round(min(rng.lognormvariate(4.6, 0.8), 20000), 2))),
        "due_date": DUE_DATE,
        "reference": f"INV-{i:08d}",
    }


def debtor_of_case(n: int, per_debtor: float, seed: int) -> list[int]:
    """Each case's debtor number (1, 2, ...), spread as the simulation spreads them."""
    # Its own stream: the cases' data stay the same whatever the spread.
    return debtor_spread(n, per_debtor, random.Random(seed + 17))


def insert_debtors(db: Database, owners: list[int], datas: list[dict[str, Any]]) -> None:
    """One debtor row per debtor number, with the data of their first case."""
    first: dict[int, dict[str, Any]] = {}
    for owner, data in zip(owners, datas, strict=True):
        first.setdefault(owner, data)
    stamp = naive_utc(SETUP_AT)
    rows = [
        {
            "id": owner,
            "external_id": f"CUST-{owner:08d}",
            "name": data["debtor_name"],
            "email": data["email"],
            "phone": data["phone"],
            "street": data["street"],
            "postcode": data["postcode"],
            "city": data["city"],
            "country": data["country"],
            "subdivision": None,
            "locale": "de-DE",
            "timezone": data["timezone"],
            "contact_prefs": {},
            "created_at": stamp,
            "updated_at": stamp,
            "merged_into_id": None,
            "merged_at": None,
        }
        for owner, data in first.items()
    ]
    for start in range(0, len(rows), CHUNK):
        with db.transaction() as session:
            session.execute(insert(DebtorRow), rows[start : start + CHUNK])


def build_portfolio(
    db: Database, doc: dict[str, Any], n: int, seed: int, per_debtor: float = 0
) -> int:
    """Schema, a published version and `n` open cases inserted in chunks; returns the version id.

    With `per_debtor` (> 0) the cases belong to debtors, that many cases each on average; a
    debtor's cases share the data of the first (one person, one address).
    """
    db.create_all()
    with db.transaction() as session:
        version = save_version(session, doc, SETUP_AT, status="published", author="bench")
        version_id = version.id
    rng = random.Random(seed)
    owners = debtor_of_case(n, per_debtor, seed) if per_debtor > 0 else []
    if owners:
        datas = [case_data(i, random.Random(seed * 1_000_003 + i)) for i in range(n)]
        head = datas[0]
        for i, owner in enumerate(owners):  # a debtor's cases carry the data of their first
            if i == 0 or owners[i - 1] != owner:
                head = datas[i]
                continue
            for name in ("debtor_name", "email", "phone", "street", "country", "timezone"):
                datas[i][name] = head[name]
            datas[i]["currency"] = head["currency"]
        insert_debtors(db, owners, datas)
        progress(f"{max(owners):,} debtors for {n:,} cases ({n / max(owners):.2f} per debtor)")
    started = time.perf_counter()
    for start in range(0, n, CHUNK):
        with db.transaction() as session:
            rows = [
                case_values(case_data(i, rng), version, SETUP_AT)
                if not owners
                else {
                    **case_values(datas[i], version, SETUP_AT),
                    "debtor_id": owners[i],
                }
                for i in range(start, min(start + CHUNK, n))
            ]
            # render_nulls: one executemany per chunk; without it SQLAlchemy splits the chunk
            # wherever the set of None columns changes (email or phone missing).
            session.execute(insert(CaseRow).execution_options(render_nulls=True), rows)
        done = min(start + CHUNK, n)
        if done % (10 * CHUNK) == 0 or done == n:
            progress(f"inserted {done:,}/{n:,} cases ({time.perf_counter() - started:.1f} s)")
    return version_id


def enter_journeys(db: Database, batch_size: int) -> datetime:
    """The setup tick: every case enters its first wait; returns when all those waits are over."""
    started = time.perf_counter()
    report = Runtime(db, batch_size=batch_size).tick(SETUP_AT)
    progress(
        f"setup tick: {report.cases:,} cases entered their journey, {report.errors} errors "
        f"({time.perf_counter() - started:.1f} s)"
    )
    with db.transaction() as session:
        last = session.scalar(
            select(func.max(CASES.c.due_at)).where(CASES.c.status.in_(OPEN_STATUSES))
        )
    if last is None:
        raise SystemExit("no case is waiting after the setup tick: nothing to time")
    return last.replace(tzinfo=UTC) + timedelta(minutes=1)


@contextmanager
def pgserver_database(workdir: Path, name: str = "mahnwerk_bench") -> Iterator[str]:
    """Start a PostgreSQL server with pgserver in `workdir`, yield the URL of an empty database.

    The server stops when the block ends (pgserver is a dev dependency, as for the tests).
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        try:
            import pgserver
        except ImportError as exc:
            raise SystemExit("--postgres needs pgserver: pip install pgserver") from exc
        server = pgserver.get_server(workdir / "pgdata", cleanup_mode="stop")
    try:
        admin = make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
        maintenance = Database(admin.render_as_string(hide_password=False))
        with maintenance.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        maintenance.dispose()
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        server.cleanup()


def copy_database(db: Database, workdir: Path, suffix: str = "floor") -> Database:
    """A second database holding the same state, for a floor."""
    url = make_url(db.url)
    db.dispose()
    if url.get_backend_name() == "sqlite":
        source = Path(url.database or "")
        with sqlite3.connect(source) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        target = source.with_name(f"{source.stem}-{suffix}.sqlite")
        shutil.copyfile(source, target)
        return Database(f"sqlite:///{target}")
    if url.get_backend_name() == "postgresql":
        name = f"{url.database}_floor"
        admin = Database(url.set(database="postgres").render_as_string(hide_password=False))
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
        admin.dispose()
        return Database(url.set(database=name).render_as_string(hide_password=False))
    raise SystemExit(f"cannot copy a {url.get_backend_name()} database for the floor")


# -- the floor: the same SQL with a plain transition table -------------------------------------


# PostgreSQL's floor: hand-written set-based SQL on the driver's cursor, no SQLAlchemy. The
# claim reads the engine's columns with SKIP LOCKED; each batch's rows travel as one array per
# column (unnest), one statement per table (bench/README.md: the fastest of the ways measured).
PG_CLAIM = (
    f"SELECT {', '.join(CLAIMED)} FROM cases WHERE status = 'active' AND due_at <= %s "
    "ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED"
)
_PG_CASE_TYPES = (
    "bigint",
    "text",
    "text",
    "text",
    "timestamp",
    "int",
    "int",
    "timestamp",
    "timestamp",
)
_PG_OUTBOX_TYPES = {
    "case_id": "bigint",
    "version_id": "int",
    "tone": "int",
    "attempts": "int",
    "payload": "json",
    "not_before": "timestamp",
    "created_at": "timestamp",
}
_PG_AUDIT_TYPES = {
    "at": "timestamp",
    "case_id": "bigint",
    "version_id": "int",
    "detail": "json",
}


def _unnest(columns: tuple[str, ...], types: dict[str, str]) -> str:
    return ", ".join(f"%s::{types.get(c, 'text')}[]" for c in columns)


PG_INSERT_OUTBOX = (
    f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) "
    f"SELECT * FROM unnest({_unnest(OUTBOX_COLUMNS, _PG_OUTBOX_TYPES)})"
)
PG_INSERT_AUDIT = (
    f"INSERT INTO audit ({', '.join(AUDIT_COLUMNS)}) "
    f"SELECT * FROM unnest({_unnest(AUDIT_COLUMNS, _PG_AUDIT_TYPES)})"
)


def _pg_update_cases(closed: bool) -> str:
    columns = FLOOR_CASE_COLUMNS + (("closed_at",) if closed else ())
    types = _PG_CASE_TYPES + (("timestamp",) if closed else ())
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f"{c} = v.{c}" for c in columns[1:])
    return (
        f"UPDATE cases SET {sets} FROM unnest({arrays}) AS v({', '.join(columns)}) "
        "WHERE cases.id = v.id"
    )


PG_UPDATE_CASES = {closed: _pg_update_cases(closed) for closed in (False, True)}


def pg_floor_write(
    cursor: Any, cases: dict[bool, list[tuple[Any, ...]]], outbox: list, audit: list
) -> None:
    """A floor batch's writes on PostgreSQL: one unnest statement per table and shape."""
    for closed, group in cases.items():
        if group:
            columns = [list(c) for c in zip(*group, strict=True)]
            columns[4] = [naive_utc(d) if d is not None else None for d in columns[4]]
            columns[7] = columns[4]
            cursor.execute(PG_UPDATE_CASES[closed], columns)
    if outbox:
        cursor.execute(PG_INSERT_OUTBOX, [list(c) for c in zip(*outbox, strict=True)])
    if audit:
        columns = [list(c) for c in zip(*audit, strict=True)]
        detail = AUDIT_COLUMNS.index("detail")
        memo: dict[int, str] = {}  # a rule's audit rows share one detail dict
        texts = []
        for d in columns[detail]:
            if d is not None and (text_ := memo.get(id(d))) is None:
                text_ = memo[id(d)] = dumps(d)
            texts.append(None if d is None else text_)
        columns[detail] = texts
        cursor.execute(PG_INSERT_AUDIT, columns)


class Floor:
    """The bare work of a daily run: claim, look up the next node in a dict, write, commit.

    On SQLite it reads and writes through the engine's own SQL (`engine.run.store.claim_due`,
    `engine.run.bulk`): the engine-path floor; `RawSqliteFloor` is the faster raw one. On
    PostgreSQL it uses hand-written set-based SQL on the driver's cursor (`pg_floor_write`), so
    the floor is the fastest way to write the work, not the engine's path; the ratio shows what
    the engine adds on top: rules, state, bookkeeping, SQLAlchemy.
    """

    def __init__(self, doc: dict[str, Any], compiled: CompiledJourney) -> None:
        self.nodes = {n["id"]: n for n in doc["nodes"]}
        # (node, trigger) -> (rule id, next node or None for an outcome, audit detail).
        self.table: dict[tuple[str, str], tuple[str, str | None, dict[str, Any]]] = {}
        for rule in sorted(compiled.rules, key=lambda r: r.pri):
            detail = rule.audit_detail
            self.table.setdefault((rule.node, rule.trigger), (rule.id, rule.target, detail))

    def run(self, db: Database, now: datetime, batch_size: int) -> dict[str, int]:
        """Advance every due case; returns counts comparable to the engine's report."""
        counts = {"cases": 0, "transitions": 0, "outbox_rows": 0, "audit_rows": 0}
        at = naive_utc(now)
        postgres = db.engine.dialect.name == "postgresql"
        while True:
            with db.transaction() as session:
                if postgres:
                    cursor = session.connection().connection.cursor()
                    cursor.execute(PG_CLAIM, (at, batch_size))
                    rows = [list(row) for row in cursor.fetchall()]
                else:
                    rows = claim_due(session, now, batch_size)
                if not rows:
                    break
                cases: dict[bool, list[tuple[Any, ...]]] = {False: [], True: []}
                outbox: list[tuple[Any, ...]] = []
                audit: list[tuple[Any, ...]] = []
                for row in rows:
                    closed, values = self._advance(row, now, at, outbox, audit, counts)
                    cases[closed].append(values)
                if postgres:
                    pg_floor_write(cursor, cases, outbox, audit)
                    cursor.close()
                else:
                    connection = session.connection()
                    for closed, group in cases.items():
                        columns = FLOOR_CASE_COLUMNS + (("closed_at",) if closed else ())
                        update_rows(connection, CASES, columns, group)
                    insert_rows(connection, OUTBOX, OUTBOX_COLUMNS, outbox)
                    insert_rows(connection, AUDIT, AUDIT_COLUMNS, audit)
            counts["cases"] += len(rows)
            counts["outbox_rows"] += len(outbox)
            counts["audit_rows"] += len(audit)
        return counts

    def _advance(
        self,
        row: list[Any],
        now: datetime,
        at: datetime,
        outbox: list,
        audit: list,
        counts: dict[str, int],
    ) -> tuple[bool, tuple[Any, ...]]:
        case_id, version_id = claimed_value(row, "id"), claimed_value(row, "version_id")
        node, trigger, visits = claimed_value(row, "node_id"), "timer", claimed_value(row, "visits")
        status, outcome, due = "active", None, None
        sent = claimed_value(row, "messages_sent")
        while (found := self.table.get((node, trigger))) is not None:
            rule_id, target, detail = found
            counts["transitions"] += 1
            audit.append(_audit(at, case_id, version_id, node, "transition", rule_id, detail))
            if target is None:
                status, outcome = "closed", "closed"
                break
            node, visits = target, visits + 1
            spec = self.nodes[node]
            if spec["type"] == "send":
                sent += self._send(row, node, visits, spec["params"], at, outbox, audit)
            if spec["type"] == "end":
                status, outcome = "closed", spec["params"]["outcome"]
                closing = {"outcome": outcome}
                audit.append(_audit(at, case_id, version_id, node, "closed", None, closing))
                break
            if (node, "enter") in self.table:
                trigger = "enter"
                continue
            params = spec["params"]
            due = now + timedelta(days=int(params.get("days") or params.get("timeout_days") or 1))
            break
        values = (case_id, node, status, outcome, due, sent, visits, due, at)
        return status == "closed", values + ((at,) if status == "closed" else ())

    @staticmethod
    def _send(
        row: list[Any],
        node: str,
        visits: int,
        params: dict,
        at: datetime,
        outbox: list,
        audit: list,
    ) -> int:
        channel = params["channel"]
        address = {"email": claimed_value(row, "email"), "sms": claimed_value(row, "phone")}.get(
            channel, claimed_value(row, "street")
        )
        status, reason = ("pending", None) if address else ("suppressed", f"no_address:{channel}")
        case_id, version_id = claimed_value(row, "id"), claimed_value(row, "version_id")
        outbox.append(
            outbox_values(
                idempotency_key=f"c{case_id}-v{visits}-{node}",
                case_id=case_id,
                version_id=version_id,
                node_id=node,
                channel=channel,
                status=status,
                reason=reason,
                template=params["template"],
                tone=int(params.get("tone", 1)),
                purpose=params.get("purpose", "reminder"),
                fallback_channel=params.get("fallback_channel"),
                payload=None,
                not_before=at,
                created_at=at,
            )
        )
        if reason:
            why = {"reason": reason}
            audit.append(_audit(at, case_id, version_id, node, "suppression", None, why))
            return 0
        return 1


def _audit(
    at: datetime, case_id: int, version_id: int, node: str, kind: str, rule: Any, detail: Any
) -> AuditValues:
    return audit_values(
        at=at,
        case_id=case_id,
        version_id=version_id,
        node_id=node,
        kind=kind,
        rule=rule,
        detail=detail,
    )


# -- the raw floor: the same rows on the bare driver, the fastest way measured ----------------

# SQLite settings for the raw floor on top of the engine's (WAL, synchronous=NORMAL, foreign
# keys, a 64 MB page cache): each one safe for the engine too (bench/README.md, "The floors").
RAW_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA cache_size=-65536",
    "PRAGMA temp_store=MEMORY",
)
# The claim reads what the rows need: the case, its address columns and its audit chain head.
_RAW_CLAIM = (
    "SELECT id, version_id, node_id, visits, messages_sent, email, phone, street, "
    "COALESCE((SELECT hash FROM audit WHERE audit.case_id = cases.id "
    "ORDER BY audit.id DESC LIMIT 1), zeroblob(32)) FROM cases "
    "WHERE status = 'active' AND due_at <= ? ORDER BY due_at LIMIT ?"
)


class RawSqliteFloor:
    """The same rows as the engine writes, on the bare sqlite3 driver with nothing else.

    Each case's path through the journey is worked out once per node it waits at (the engine
    works it out per case: that is its rules); per row only the address decides send or
    suppress. The rows are built in their stored forms (DATETIME text, JSON text) and written
    with one prepared executemany per table: the UPDATE sets only the columns that change, so
    SQLite rewrites only the indexes that hold them (the engine does the same). The audit rows
    carry the real hash chain (`mahnwerk audit verify` passes on the floor's database).
    """

    def __init__(self, doc: dict[str, Any], compiled: CompiledJourney) -> None:
        self.plan = Floor(doc, compiled)
        self._paths: dict[tuple[str, int], Any] = {}

    def _path(self, node: str, version_id: int, now: datetime, at: datetime) -> Any:
        """What a case waiting at `node` goes through: audit rows, the send, where it parks."""
        key = (node, version_id)
        found = self._paths.get(key)
        if found is not None:
            return found
        table, nodes = self.plan.table, self.plan.nodes
        trigger, steps, send, due, closed, hops = "timer", [], None, None, None, 0
        while (rule := table.get((node, trigger))) is not None:
            rule_id, target, detail = rule
            steps.append((node, "transition", rule_id, detail))
            if target is None:
                closed = "closed"
                break
            node, hops = target, hops + 1
            spec = nodes[node]
            if spec["type"] == "send":
                send = (node, hops, spec["params"], len(steps))
            if spec["type"] == "end":
                closed = spec["params"]["outcome"]
                steps.append((node, "closed", None, {"outcome": closed}))
                break
            if (node, "enter") in table:
                trigger = "enter"
                continue
            params = spec["params"]
            due = now + timedelta(days=int(params.get("days") or params.get("timeout_days") or 1))
            break
        if closed is not None:
            raise SystemExit("the raw floor covers journeys whose timed step parks the case")
        stamp = sqlite_datetime(at)
        hashed = [
            (
                node_id,
                kind,
                rule_id,
                dumps(detail),
                _hash_prefix(at, version_id, node_id, kind, rule_id, detail),
            )
            for node_id, kind, rule_id, detail in steps
        ]
        suppress = None
        if send is not None:
            channel = send[2]["channel"]
            why = {"reason": f"no_address:{channel}", "template": send[2]["template"]}
            suppress = (dumps(why), _hash_prefix(at, version_id, send[0], "suppression", None, why))
        found = self._paths[key] = (
            node,
            sqlite_datetime(naive_utc(due)),
            stamp,
            hashed,
            send,
            suppress,
        )
        return found

    def run(self, path: Path, now: datetime, batch_size: int) -> dict[str, int]:
        """Advance every due case with bare SQL; returns counts comparable to the engine's."""
        counts = {"cases": 0, "transitions": 0, "outbox_rows": 0, "audit_rows": 0}
        at = naive_utc(now)
        raw = sqlite3.connect(path, isolation_level=None)
        for pragma in RAW_SQLITE_PRAGMAS:
            raw.execute(pragma)
        update = (
            "UPDATE cases SET node_id = ?, timer_at = ?, messages_sent = ?, visits = ?, "
            "due_at = ?, updated_at = ? WHERE id = ?"
        )
        insert_outbox = (
            f"INSERT INTO outbox ({', '.join(OUTBOX_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in OUTBOX_COLUMNS)})"
        )
        insert_audit = (
            f"INSERT INTO audit ({', '.join(CHAINED)}) VALUES ({', '.join('?' for _ in CHAINED)})"
        )
        stamp_at = sqlite_datetime(at)
        try:
            while True:
                raw.execute("BEGIN IMMEDIATE")
                rows = raw.execute(_RAW_CLAIM, (stamp_at, batch_size)).fetchall()
                if not rows:
                    raw.execute("COMMIT")
                    break
                cases, outbox, audit, transitions = [], [], [], 0
                for case_id, version_id, node, visits, sent, email, phone, street, head in rows:
                    target, due, stamp, hashed, send, suppress = self._path(
                        node, version_id, now, at
                    )
                    tail = b"%d}" % case_id
                    prev, reason = bytes(head), None
                    if send is not None:
                        node_id, hops, params, after = send
                        channel = params["channel"]
                        address = (
                            email if channel == "email" else phone if channel == "sms" else street
                        )
                        reason = None if address else f"no_address:{channel}"
                        outbox.append(
                            (
                                f"c{case_id}-v{visits + hops}-{node_id}",
                                case_id,
                                version_id,
                                node_id,
                                channel,
                                "suppressed" if reason else "pending",
                                reason,
                                params["template"],
                                int(params.get("tone", 1)),
                                params.get("purpose", "reminder"),
                                params.get("fallback_channel"),
                                None,
                                stamp,
                                stamp,
                                0,
                            )
                        )
                        sent += reason is None
                    for index, (node_id, kind, rule_id, detail, prefix) in enumerate(hashed):
                        if reason is not None and index == after:  # the send's suppression
                            state = suppress[1].copy()
                            state.update(tail + prev)
                            digest = state.digest()
                            audit.append(
                                (
                                    stamp,
                                    case_id,
                                    version_id,
                                    send[0],
                                    "suppression",
                                    None,
                                    suppress[0],
                                    prev,
                                    digest,
                                )
                            )
                            prev = digest
                        state = prefix.copy()
                        state.update(tail + prev)
                        digest = state.digest()
                        audit.append(
                            (
                                stamp,
                                case_id,
                                version_id,
                                node_id,
                                kind,
                                rule_id,
                                detail,
                                prev,
                                digest,
                            )
                        )
                        prev = digest
                    transitions += len(hashed)
                    cases.append((target, due, sent, visits + len(hashed), due, stamp, case_id))
                raw.executemany(update, cases)
                raw.executemany(insert_outbox, outbox)
                raw.executemany(insert_audit, audit)
                raw.execute("COMMIT")
                counts["cases"] += len(rows)
                counts["transitions"] += transitions
                counts["outbox_rows"] += len(outbox)
                counts["audit_rows"] += len(audit)
        finally:
            raw.close()
        return counts


def _hash_prefix(
    at: datetime, version_id: int, node_id: str, kind: str, rule: str | None, detail: Any
) -> Any:
    """The sha256 state of an audit row's canonical form up to its case id."""
    form = canonical(at, 0, version_id, node_id, kind, rule, detail)
    return hashlib.sha256(form[: -len("0}")].encode())


# -- measuring --------------------------------------------------------------------------------


class RssSampler:
    """Samples the resident set size in a thread; its peak covers just the timed section."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, me.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        if psutil is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if psutil is not None:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, psutil.Process().memory_info().rss)


def run_queue_seconds() -> float:
    """Seconds this thread has waited for a CPU while ready to run (Linux schedstat; else 0).

    Wall time minus CPU time is time off the CPU: waiting for a CPU (a loaded host: this) or
    blocked (disk, fsync, the database server: the rest).
    """
    try:
        fields = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat").read_text()
    except OSError:
        return 0.0
    return int(fields.split()[1]) / 1e9


def timed(work: Callable[[], Any], profile: Path | None) -> tuple[Any, float, float, int]:
    """Run `work`; returns its result, wall and CPU seconds and sampled peak RSS in bytes.

    The seconds spent waiting for a CPU are kept in `timed.waited` (see run_queue_seconds).
    """
    profiler = cProfile.Profile() if profile else None
    with RssSampler() as rss:
        started, cpu, queued = time.perf_counter(), time.process_time(), run_queue_seconds()
        if profiler:
            profiler.enable()
        result = work()
        if profiler:
            profiler.disable()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        timed.waited = run_queue_seconds() - queued  # type: ignore[attr-defined]
    if profiler and profile:
        profiler.dump_stats(profile)
        stats = pstats.Stats(str(profile), stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(30)
    return result, seconds, cpu, rss.peak


def count_rows(db: Database) -> tuple[int, int]:
    """Outbox and audit rows in a database."""
    with db.engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(OUTBOX)) or 0,
            conn.scalar(select(func.count()).select_from(AUDIT)) or 0,
        )


def time_dispatch(db: Database, now: datetime, batch_size: int) -> dict[str, Any]:
    """Time the sandbox dispatcher sending what the run queued (guard, render, record)."""
    progress("timing the sandbox dispatch of the queued messages")
    dispatcher = SandboxDispatcher(db, batch_size=batch_size)
    try:
        report, seconds, cpu, _ = timed(lambda: dispatcher.dispatch(now), None)
    finally:
        dispatcher.close()
    decided = report.sent + report.deferred + report.suppressed
    return {
        "dispatch_sent": report.sent,
        "dispatch_deferred": report.deferred,
        "dispatch_suppressed": report.suppressed,
        "dispatch_seconds": round(seconds, 3),
        "dispatch_cpu_seconds": round(cpu, 3),
        "dispatch_messages_per_s": round(decided / seconds, 1) if seconds else None,
    }


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Build, set up, time the engine and the floor; return the figures."""
    doc = json.loads(Path(args.journey).read_text(encoding="utf-8"))
    url = args.database_url or f"sqlite:///{workdir / 'daily_run.sqlite'}"
    db = Database(url)
    progress(f"database {db.engine.url.render_as_string(hide_password=True)}")
    version_id = build_portfolio(db, doc, args.cases, args.seed, args.cases_per_debtor)
    now = enter_journeys(db, args.batch_size)
    progress(f"daily run at {now.isoformat()}")
    floor_db = copy_database(db, workdir) if not args.skip_floor else None
    sqlite = make_url(url).get_backend_name() == "sqlite"
    raw_db = copy_database(db, workdir, "raw") if sqlite and not args.skip_floor else None
    before_outbox, before_audit = count_rows(db)

    progress("timing the engine's daily run")
    report, seconds, cpu, tick_rss = timed(
        lambda: Runtime(db, batch_size=args.batch_size).tick(now), args.profile
    )
    waited = timed.waited  # type: ignore[attr-defined]
    after_outbox, after_audit = count_rows(db)
    figures: dict[str, Any] = {
        "cases": report.cases,
        "transitions": report.transitions,
        "messages": report.messages,
        "suppressed": report.suppressed,
        "errors": report.errors,
        "outbox_rows": after_outbox - before_outbox,
        "audit_rows": after_audit - before_audit,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "case_steps_per_s": round(report.cases / seconds, 1),
        "transitions_per_s": round(report.transitions / seconds, 1),
        "case_steps_per_cpu_s": round(report.cases / cpu, 1),
        # Off the CPU: waiting for one (the host's load) and the rest (disk, the server).
        "cpu_wait_seconds": round(waited, 3),
        "blocked_seconds": round(max(seconds - cpu - waited, 0.0), 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "tick_peak_rss_mb": round(tick_rss / 2**20, 1) if psutil else None,
        "batch_size": args.batch_size,
        "database": db.engine.dialect.name,
        "cases_per_debtor": args.cases_per_debtor or None,
    }
    if args.dispatch:
        figures.update(time_dispatch(db, now, args.batch_size))
    db.dispose()

    if floor_db is not None:
        with floor_db.transaction() as session:
            row = session.execute(select(CASES.c.version_id).limit(1)).one()
            compiled = session.execute(
                text("SELECT compiled FROM journey_versions WHERE id = :id"), {"id": version_id}
            ).scalar_one()
        assert row.version_id == version_id
        if isinstance(compiled, str):
            compiled = json.loads(compiled)
        compiled = CompiledJourney.from_json(compiled)
        floor = Floor(doc, compiled)
        floor_profile = args.profile.with_suffix(".floor.prof") if args.profile else None
        if raw_db is not None:  # SQLite: the floor is the raw driver; the engine's path too
            raw_path = Path(make_url(raw_db.url).database or "")
            raw_db.dispose()
            progress("timing the raw SQL floor (the same rows on the bare driver)")
            raw_floor = RawSqliteFloor(doc, compiled)
            counts, floor_seconds, floor_cpu, _ = timed(
                lambda: raw_floor.run(raw_path, now, args.batch_size), floor_profile
            )
            raw_waited = timed.waited  # type: ignore[attr-defined]
            if not args.skip_engine_floor:
                progress("timing the engine-path floor (the engine's SQL, no rules)")
                path_counts, path_seconds, path_cpu, _ = timed(
                    lambda: floor.run(floor_db, now, args.batch_size), None
                )
                figures.update(
                    engine_path_floor_seconds=round(path_seconds, 3),
                    engine_path_floor_cpu_seconds=round(path_cpu, 3),
                    engine_path_floor_case_steps_per_s=round(
                        path_counts["cases"] / path_seconds, 1
                    ),
                    engine_path_floor_case_steps_per_cpu_s=round(
                        path_counts["cases"] / path_cpu, 1
                    ),
                )
            timed.waited = raw_waited  # type: ignore[attr-defined]
        else:
            progress("timing the SQL floor")
            counts, floor_seconds, floor_cpu, _ = timed(
                lambda: floor.run(floor_db, now, args.batch_size), floor_profile
            )
        floor_db.dispose()
        figures.update(
            floor_cases=counts["cases"],
            floor_transitions=counts["transitions"],
            floor_outbox_rows=counts["outbox_rows"],
            floor_audit_rows=counts["audit_rows"],
            floor_seconds=round(floor_seconds, 3),
            floor_cpu_seconds=round(floor_cpu, 3),
            floor_case_steps_per_s=round(counts["cases"] / floor_seconds, 1),
            floor_case_steps_per_cpu_s=round(counts["cases"] / floor_cpu, 1),
            floor_cpu_wait_seconds=round(timed.waited, 3),  # type: ignore[attr-defined]
            ratio=round((report.cases / seconds) / (counts["cases"] / floor_seconds), 3),
            cpu_ratio=round((report.cases / cpu) / (counts["cases"] / floor_cpu), 3),
        )
    else:
        figures.update(floor_case_steps_per_s=None, ratio=None)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return figures


def main() -> None:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="open cases in the portfolio")
    parser.add_argument("--journey", default=str(DEFAULT_JOURNEY), help="journey document (JSON)")
    parser.add_argument(
        "--database-url",
        help="an empty database to build in (default: a fresh SQLite file in a temp dir); "
        "on PostgreSQL the floor's copy is made with CREATE DATABASE ... TEMPLATE",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="start a PostgreSQL server with pgserver in the temp dir and build in it",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="cases claimed per batch")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic portfolio")
    parser.add_argument("--skip-floor", action="store_true", help="time the engine only")
    parser.add_argument(
        "--skip-engine-floor",
        action="store_true",
        help="SQLite: time only the raw floor, not also the engine's own SQL path without rules",
    )
    parser.add_argument(
        "--cases-per-debtor",
        type=float,
        default=0,
        help="give the cases debtors, this many cases each on average (0: no debtors)",
    )
    parser.add_argument(
        "--dispatch",
        action="store_true",
        help="also time the sandbox dispatcher sending the messages the run queued",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="cProfile the engine's daily run into this file (the floor: *.floor.prof)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (SQLite files)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    if args.cases_per_debtor and args.cases_per_debtor < 1:
        parser.error("--cases-per-debtor: at least 1 (or 0 for no debtors)")
    if args.postgres and args.database_url:
        parser.error("--postgres starts its own database: leave out --database-url")
    workdir = Path(tempfile.mkdtemp(prefix="mahnwerk-daily-run-"))
    try:
        if args.postgres:
            with pgserver_database(workdir) as url:
                args.database_url = url
                figures = measure(args, workdir)
        else:
            figures = measure(args, workdir)
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"cases advanced:  {figures['cases']:,} in {figures['seconds']} s "
        f"({figures['cpu_seconds']} s CPU)"
    )
    print(f"transitions:     {figures['transitions']:,}")
    print(
        f"off the CPU:     {figures['cpu_wait_seconds']} s waiting for a CPU (load average "
        f"{figures['load_average'][0]}), {figures['blocked_seconds']} s blocked (disk, server)"
    )
    print(f"engine:          {figures['case_steps_per_s']:,.0f} case steps/s")
    if figures["ratio"] is not None:
        print(
            f"SQL floor:       {figures['floor_case_steps_per_s']:,.0f} case steps/s "
            f"({figures['floor_seconds']} s, {figures['floor_cpu_seconds']} s CPU)"
        )
        print(
            f"ratio:           {figures['ratio']} (engine / floor; by CPU {figures['cpu_ratio']})"
        )
        if "engine_path_floor_seconds" in figures:
            print(
                "engine-path floor: "
                f"{figures['engine_path_floor_case_steps_per_s']:,.0f} case steps/s "
                f"({figures['engine_path_floor_seconds']} s, "
                f"{figures['engine_path_floor_cpu_seconds']} s CPU; the engine's SQL, no rules)"
            )
    if "dispatch_seconds" in figures:
        print(
            f"dispatch:        {figures['dispatch_messages_per_s']:,.0f} messages/s "
            f"({figures['dispatch_sent']:,} sent, {figures['dispatch_deferred']:,} deferred, "
            f"{figures['dispatch_suppressed']:,} suppressed in {figures['dispatch_seconds']} s)"
        )
    print(f"peak RSS:        {figures['peak_rss_mb']} MB (ru_maxrss, whole process)")
    if figures["tick_peak_rss_mb"] is not None:
        print(f"tick peak RSS:   {figures['tick_peak_rss_mb']} MB (psutil, sampled)")


if __name__ == "__main__":
    main()
