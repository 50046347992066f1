"""Kill workers at random points of tick and dispatch; check exactly-once from the database.

Each run: a fresh copy of a due portfolio on PostgreSQL (`daily_run.py`'s, `minimal.json`:
every case has entered its journey and waits at `wait_7`, whose time is over), K worker
processes running what `mahnwerk worker` runs (`Runtime.tick`, then `Dispatcher.dispatch` with
the sandbox connectors, in a loop; a database error is logged and the loop goes on, as the
scheduler does), and one fault on one of them, the victim:

- `sigkill`: SIGKILL at a random share of the day's transitions (anywhere in tick or dispatch);
- `point`: the victim ends itself as SIGKILL would at a named point (engine/delivery/
  crash_points.py), the nth time it gets there: after a tick batch is claimed, after its
  writes (inside the transaction), after its commit; after a dispatch claim, after the
  provider accepted a message, while its outcome is written, after that commit;
- `terminate`: `pg_terminate_backend` on every connection of the victim at a random share
  (it lives on, reconnects and goes on).

The others finish the day; a last worker runs once the dispatch leases are over (at `now +
LEASE + 1 min`) and sends what a dead worker had leased. Every worker journals each message it
hands to a connector (its idempotency key, the outbox row's id: an O_APPEND write before
`send`, which survives SIGKILL). Then `check`
reads the database: the outbox's unique idempotency key (case, step, node) exists in the
catalog; every case took each step of its path once and in order (none lost, none doubled);
one outbox row per case; every message handed over (status 'sandboxed' or, with no address,
'suppressed'); every handed key is an outbox row's and every sandboxed row's key was handed;
one 'message' audit row per sandboxed message and no transition missing from the audit trail.
A message may be handed over twice only with the same idempotency key, when a worker died
between the provider's acceptance and writing it down (the provider drops the second, as the
sandbox does); such repeats are counted and bounded by the victim's sending threads.

    .venv/bin/python bench/kill_check.py                  # 40 runs, 600 cases, 2 workers
    .venv/bin/python bench/kill_check.py --runs 100 --workers 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import func, select, text  # noqa: E402

from engine.delivery.crash_points import POINTS  # noqa: E402
from engine.delivery.dispatcher import LEASE  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.models import AuditRow, CaseRow, OutboxRow  # noqa: E402

PATH = ["start", "wait_7", "reminder"]  # the nodes each case of minimal.json leaves, in order
FINAL = "wait_pay"
SENDING_THREADS = 2  # per worker: bounds the repeats a dead worker can cause

DRIVER = """
import os, sys, logging
from datetime import datetime
from sqlalchemy.exc import DBAPIError
from engine.delivery import crash_points
from engine.delivery.config import DeliveryConfig
from engine.delivery.dispatcher import Dispatcher
from engine.run.runtime import Runtime
from engine.storage.db import Database

url, moment, batch, crash, journal = sys.argv[1:]
if crash:
    point, nth = crash.split(":")
    crash_points.arm(point, int(nth))
fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

class Journaled:
    def __init__(self, inner):
        self.inner = inner
    def send(self, msg):
        os.write(fd, f"{msg.idempotency_key}\\n".encode())  # before the hand-over
        return self.inner.send(msg)
    def __getattr__(self, name):
        return getattr(self.inner, name)

db = Database(url)
runtime = Runtime(db, batch_size=int(batch))
config = DeliveryConfig()
connectors = {name: Journaled(c) for name, c in config.connectors().items()}
dispatcher = Dispatcher(db, config=config, batch_size=int(batch), workers=2, connectors=connectors)
now = datetime.fromisoformat(moment)
print("ready", flush=True)
while True:
    try:  # as the scheduler's jobs: a failed run is logged and the next one tries again
        report = runtime.tick(now)
        sent = dispatcher.dispatch(now)
    except DBAPIError as exc:
        logging.warning("run failed, trying again: %s", exc)
        continue
    if report.cases == 0 and sent.sent + sent.deferred + sent.suppressed + sent.retried == 0:
        break
dispatcher.close()
print("done", flush=True)
"""


@dataclass
class Kill:
    """One fault: its kind and where it strikes."""

    kind: str  # sigkill, point, terminate
    share: float = 0.0  # of the day's transitions (sigkill, terminate)
    point: str = ""  # a crash point (point)
    nth: int = 1

    def __str__(self) -> str:
        if self.kind == "point":
            return f"point:{self.point}:{self.nth}"
        return f"{self.kind}@{self.share:.2f}"


# How often each named point is reached per worker in a run of 600 cases in batches of 25,
# roughly: a random nth below this lands inside the victim's share of the day.
POINT_REACH = {
    "tick_claimed": 6,
    "tick_written": 6,
    "tick_committed": 6,
    "claimed": 4,
    "accepted": 60,
    "recording": 20,
    "recorded": 20,
}
assert set(POINT_REACH) == set(POINTS)


def random_kill(rng: random.Random) -> Kill:
    """A fault drawn at random: a third each of timed SIGKILLs, named points and terminations."""
    kind = rng.choice(("sigkill", "point", "terminate"))
    if kind == "point":
        point = rng.choice(POINTS)
        return Kill(kind, point=point, nth=rng.randint(1, POINT_REACH[point]))
    return Kill(kind, share=rng.uniform(0.05, 0.85))


def prepare(db: Database, cases: int, seed: int = 1) -> datetime:
    """The portfolio of daily_run.py, entered into its journey; the moment all cases are due."""
    from daily_run import DEFAULT_JOURNEY, build_portfolio, enter_journeys

    doc = json.loads(DEFAULT_JOURNEY.read_text(encoding="utf-8"))
    build_portfolio(db, doc, cases, seed)
    return enter_journeys(db, batch_size=500)


def named(url: str, name: str) -> str:
    """The URL with its connections named in pg_stat_activity."""
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def start_worker(
    url: str, moment: datetime, batch: int, journal: Path, name: str, crash: str = ""
) -> subprocess.Popen[str]:
    """A worker process, started and past its imports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", DRIVER, named(url, name), moment.isoformat(), str(batch), crash]
    proc = subprocess.Popen(
        [*args, str(journal)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline().strip()
    if ready != "ready":
        raise RuntimeError(f"worker {name} did not start (exit code {proc.wait()})")
    return proc


def transitions(db: Database) -> int:
    """Transitions written so far (committed, so visible)."""
    with db.engine.connect() as connection:
        return connection.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.kind == "transition")
        )


def wait_for_transitions(db: Database, count: int, timeout: float = 300.0) -> bool:
    """Until `count` transitions are written; False when the day ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if transitions(db) >= count:
            return True
        time.sleep(0.005)
    return False


def terminate(db: Database, name: str) -> int:
    """pg_terminate_backend on every connection of a worker; how many there were."""
    with db.engine.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": name},
        ).scalar()
    return int(ended or 0)


@dataclass
class RunResult:
    """What one run did to its victim and what the check found."""

    kill: str
    struck: bool  # the fault happened (a named point may lie beyond the victim's work)
    findings: dict[str, Any] = field(default_factory=dict)


def run_once(
    url: str, now: datetime, kill: Kill, cases: int, workers: int, batch: int, workdir: Path
) -> RunResult:
    """Start the workers on a prepared database, strike the victim, finish the day, check."""
    db = Database(url)
    journal = workdir / f"journal-{os.getpid()}-{time.monotonic_ns()}.log"
    start = len(PATH) - 2  # transitions per case already written by the setup tick
    crash = f"{kill.point}:{kill.nth}" if kill.kind == "point" else ""
    procs = [start_worker(url, now, batch, journal, "victim", crash)]
    procs += [start_worker(url, now, batch, journal, f"other{i}") for i in range(1, workers)]
    struck = False
    if kill.kind in ("sigkill", "terminate"):
        target = cases * start + int(kill.share * cases * (len(PATH) - start))
        if wait_for_transitions(db, target) and procs[0].poll() is None:
            if kill.kind == "sigkill":
                procs[0].send_signal(signal.SIGKILL)
                struck = True
            else:
                struck = terminate(db, "victim") > 0
    for proc in procs:
        proc.communicate(timeout=600)
    if kill.kind == "point":
        struck = procs[0].returncode == 137
    elif kill.kind == "sigkill" and struck:
        struck = procs[0].returncode == -signal.SIGKILL
    for proc in procs[1:] + ([] if struck and kill.kind != "terminate" else procs[:1]):
        if proc.returncode != 0:
            raise RuntimeError(f"a worker failed with exit code {proc.returncode} ({kill})")
    # The dead worker's leases run out; a worker at that moment sends what it had leased.
    late = start_worker(url, now + LEASE + timedelta(minutes=1), batch, journal, "late")
    late.communicate(timeout=600)
    findings = check(db, cases, journal, struck=struck)
    db.dispose()
    journal.unlink(missing_ok=True)
    return RunResult(str(kill), struck, findings)


def unique_key_exists(db: Database) -> bool:
    """Whether the catalog has a unique index on outbox(idempotency_key) (case, step, node)."""
    with db.engine.connect() as connection:
        if db.is_sqlite:
            indexes = connection.exec_driver_sql("PRAGMA index_list(outbox)").all()
            for index in indexes:
                cols = connection.exec_driver_sql(f"PRAGMA index_info('{index[1]}')").all()
                if index[2] and [c[2] for c in cols] == ["idempotency_key"]:
                    return True
            return False
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
            "WHERE t.relname = 'outbox' AND i.indisunique AND i.indnatts = 1 "
            "AND a.attname = 'idempotency_key'"
        ).scalar()
        return bool(found)


def check(db: Database, cases: int, journal: Path, struck: bool) -> dict[str, Any]:
    """Read the database (and the hand-over journal) after a day with a fault; the findings."""
    handed = Counter(journal.read_text(encoding="utf-8").split()) if journal.exists() else {}
    with db.transaction() as session:
        paths: dict[int, list[str]] = defaultdict(list)
        for case_id, node_id in session.execute(
            select(AuditRow.case_id, AuditRow.node_id)
            .where(AuditRow.kind == "transition")
            .order_by(AuditRow.id)
        ):
            paths[case_id].append(node_id)
        at = dict(session.execute(select(CaseRow.id, CaseRow.node_id)).all())
        outbox = session.execute(
            select(OutboxRow.id, OutboxRow.case_id, OutboxRow.idempotency_key, OutboxRow.status)
        ).all()
        message_audits = Counter(
            int(detail["outbox_id"])
            for (detail,) in session.execute(
                select(AuditRow.detail).where(AuditRow.kind == "message")
            )
        )
    rows_per_case = Counter(case_id for _, case_id, _, _ in outbox)
    keys = Counter(key for _, _, key, _ in outbox)
    # The connectors get the outbox row's id as their idempotency key (engine/delivery).
    ids = {str(row_id) for row_id, *_ in outbox}
    sandboxed = {str(row_id) for row_id, _, _, status in outbox if status == "sandboxed"}
    sandboxed_ids = {row_id for row_id, _, _, status in outbox if status == "sandboxed"}
    statuses = Counter(status for *_, status in outbox)
    findings = {
        "cases": len(at),
        "steps": sum(len(p) for p in paths.values()),
        "unique_key_in_catalog": unique_key_exists(db),
        "lost_steps": sum(max(len(PATH) - len(paths.get(c, [])), 0) for c in at)
        + sum(1 for node in at.values() if node != FINAL),
        "doubled_steps": sum(max(len(p) - len(PATH), 0) for p in paths.values()),
        "steps_out_of_order": sum(1 for p in paths.values() if p != PATH[: len(p)]),
        "outbox_duplicates": sum(n - 1 for n in keys.values())
        + sum(n - 1 for n in rows_per_case.values()),
        "cases_without_outbox_row": len(at) - len(rows_per_case),
        "unresolved_messages": sum(
            n for s, n in statuses.items() if s not in ("sandboxed", "suppressed")
        ),
        "handed_unknown_keys": sum(1 for key in handed if key not in ids),
        "sandboxed_never_handed": sum(1 for key in sandboxed if key not in handed),
        "handed_not_sandboxed": sum(1 for key in handed if key in ids and key not in sandboxed),
        "repeat_handovers": sum(n - 1 for n in handed.values()),
        "message_audit_gaps": sum(1 for i in sandboxed_ids if message_audits.get(i, 0) != 1)
        + sum(1 for i in message_audits if i not in sandboxed_ids),
        "messages": len(sandboxed),
        "suppressed": statuses.get("suppressed", 0),
    }
    findings["clean"] = (
        findings["cases"] == cases
        and findings["unique_key_in_catalog"]
        and all(
            findings[name] == 0
            for name in (
                "lost_steps",
                "doubled_steps",
                "steps_out_of_order",
                "outbox_duplicates",
                "cases_without_outbox_row",
                "unresolved_messages",
                "handed_unknown_keys",
                "sandboxed_never_handed",
                "handed_not_sandboxed",
                "message_audit_gaps",
            )
        )
        # Only a fault between a provider's acceptance and the outcome's commit causes a
        # repeat (with the same key): at most one per sending thread of the struck worker.
        and findings["repeat_handovers"] <= (SENDING_THREADS if struck else 0)
    )
    return findings


def main() -> None:
    """Parse arguments; run the faults one after the other; print the tally."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs, one fault each")
    parser.add_argument("--cases", type=int, default=600, help="due cases per run")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per run")
    parser.add_argument("--batch-size", type=int, default=25, help="cases per tick batch")
    parser.add_argument("--seed", type=int, default=1, help="seed of the faults drawn")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.runs < 1 or args.cases < 1 or args.workers < 2:
        parser.error("--runs and --cases must be at least 1, --workers at least 2")

    from daily_run import pgserver_database
    from scale_out import copy_of

    rng = random.Random(args.seed)
    results: list[RunResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mahnwerk-kill-check-") as tmp:  # noqa: SIM117
        with pgserver_database(Path(tmp)) as url:
            template = Database(url)
            now = prepare(template, args.cases)
            template.dispose()
            for run in range(args.runs):
                kill = random_kill(rng)
                copy = copy_of(url, f"kill_{run}")
                result = run_once(
                    copy, now, kill, args.cases, args.workers, args.batch_size, Path(tmp)
                )
                results.append(result)
                status = "clean" if result.findings["clean"] else "FOUND PROBLEMS"
                print(
                    f"[kill_check] run {run + 1}/{args.runs}: {result.kill} "
                    f"({'struck' if result.struck else 'not reached'}): {status}, "
                    f"{result.findings['repeat_handovers']} repeated hand-overs",
                    file=sys.stderr,
                    flush=True,
                )
    tally = summarize(results, time.perf_counter() - started)
    tally.update(cases=args.cases, workers=args.workers, seed=args.seed)
    if args.json:
        print(json.dumps(tally))
        return
    print(json.dumps(tally, indent=2))


def summarize(results: list[RunResult], seconds: float) -> dict[str, Any]:
    """Runs, faults that struck by kind, and every finding summed over the runs."""
    kinds = Counter(r.kill.split("@")[0].split(":")[0] for r in results if r.struck)
    points = Counter(
        r.kill.rsplit(":", 1)[0] for r in results if r.struck and r.kill.startswith("point")
    )
    summed = Counter()
    for r in results:
        summed.update(
            {k: v for k, v in r.findings.items() if isinstance(v, int) and not isinstance(v, bool)}
        )
    return {
        "runs": len(results),
        "faults_struck": sum(kinds.values()),
        "faults_by_kind": dict(kinds),
        "named_points_struck": dict(points),
        "runs_clean": sum(1 for r in results if r.findings["clean"]),
        "steps_checked": summed["steps"],
        "messages_checked": summed["messages"],
        "lost_steps": summed["lost_steps"],
        "doubled_steps": summed["doubled_steps"],
        "outbox_duplicates": summed["outbox_duplicates"],
        "message_audit_gaps": summed["message_audit_gaps"],
        "repeat_handovers_same_key": summed["repeat_handovers"],
        "seconds": round(seconds, 1),
        "failed_runs": [{"kill": r.kill, **r.findings} for r in results if not r.findings["clean"]],
    }


if __name__ == "__main__":
    main()
