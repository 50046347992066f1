"""Tick and dispatch a due portfolio on PostgreSQL with 1, 2 and 4 worker processes.

Setup (not timed): a PostgreSQL server started with pgserver, N open cases of
`journeys_examples/minimal.json` built and entered into their first wait as in `daily_run.py`,
and the clock set to when that wait is over for every case. The state is kept as a template
database; each run gets a fresh copy (CREATE DATABASE ... TEMPLATE).

Timed per worker count: K processes, each running what `mahnwerk worker`'s scheduler runs
(`Runtime.tick` and `Dispatcher.dispatch` with the sandbox connectors, see
`engine/ops/scheduler.py`) in a loop until neither finds anything due. Wall time runs from the
first worker's start to the last worker's end (imports excluded). The SQL floor is
`daily_run.py`'s set-based floor of the tick's writes on another copy, in one process.

    .venv/bin/python bench/scale_out.py                       # 200,000 cases, 1, 2, 4 workers
    .venv/bin/python bench/scale_out.py --cases 2000 --json   # a quick run, one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def work(url: str, now: datetime, batch_size: int) -> dict[str, Any]:
    """One worker: tick and dispatch until nothing is due; its counts, times and peak RSS."""
    from engine.delivery.config import DeliveryConfig
    from engine.delivery.dispatcher import Dispatcher
    from engine.run.runtime import Runtime
    from engine.storage.db import Database

    db = Database(url)
    runtime = Runtime(db, batch_size=batch_size)
    dispatcher = Dispatcher(db, config=DeliveryConfig(source="bench (sandbox)"))
    cases = transitions = messages = 0
    tick_seconds = dispatch_seconds = 0.0
    start, cpu, queued = time.time(), time.process_time(), _run_queue()
    while True:
        began = time.perf_counter()
        report = runtime.tick(now)
        ticked = time.perf_counter()
        sent = dispatcher.dispatch(now)
        tick_seconds += ticked - began
        dispatch_seconds += time.perf_counter() - ticked
        for connector in dispatcher.connectors.values():  # keep the sandboxes' memory flat
            store = getattr(connector, "store", None)
            if store is not None:
                store.sent.clear()
        cases += report.cases
        transitions += report.transitions
        messages += sent.sent
        handled = sent.sent + sent.deferred + sent.suppressed + sent.retried + sent.failed
        if report.cases == 0 and handled + sent.dead == 0:
            break
    end, cpu, queued = time.time(), time.process_time() - cpu, _run_queue() - queued
    dispatcher.close()
    db.dispose()
    return {
        "cases": cases,
        "transitions": transitions,
        "messages": messages,
        "start": start,
        "end": end,
        "cpu_seconds": round(cpu, 3),
        "cpu_wait_seconds": round(queued, 3),
        "tick_seconds": round(tick_seconds, 3),
        "dispatch_seconds": round(dispatch_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


class Sampler:
    """Where the workers' database sessions are, sampled every 100 ms, and the machine's CPU.

    Each sample counts the workers' connections by state: on the server's CPU ('active' with no
    wait event), waiting for a lock ('Lock:...'), for the WAL or disk ('LWLock', 'IO'), or on the
    client's side ('idle in transaction': the server waits for Python inside a transaction;
    'idle': between transactions). The machine's busy share of all CPUs comes from /proc/stat,
    the PostgreSQL server's CPU seconds from its processes (psutil, when installed).
    """

    def __init__(self, url: str, server_pid: int | None) -> None:
        from engine.storage.db import Database

        self.db = Database(url)
        self.server_pid = server_pid
        self.states: Counter[str] = Counter()
        self.statements: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sample = (
            "SELECT state, wait_event_type, wait_event, left(query, 40) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        with self.db.engine.connect() as connection:
            while not self._stop.wait(0.1):  # light: 10 queries a second
                rows = connection.exec_driver_sql(sample).all()
                connection.rollback()
                self.samples += 1
                for state, wait_type, wait, query in rows:
                    if state == "active":
                        self.states[
                            f"active: {wait_type}:{wait}" if wait_type else "active: CPU"
                        ] += 1
                        # Which statement the active sessions run: the claim, an UPDATE, ...
                        self.statements[" ".join((query or "").split()[:4])] += 1  # its text
                    else:
                        self.states[state or "unknown"] += 1

    def __enter__(self) -> Sampler:
        self._cpu = _proc_stat()
        self._server_cpu = _server_cpu(self.server_pid)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.db.dispose()
        busy, total = (b - a for a, b in zip(self._cpu, _proc_stat(), strict=True))
        self.machine_busy = round(busy / total, 3) if total else None
        after = _server_cpu(self.server_pid)
        self.server_cpu = (
            None if after is None or self._server_cpu is None else after - self._server_cpu
        )

    def figures(self) -> dict[str, Any]:
        """Mean connections per state over the samples, the CPU shares."""
        return {
            "sessions_by_state": {
                state: round(n / self.samples, 2) for state, n in self.states.most_common()
            }
            if self.samples
            else {},
            "active_statements": {
                statement: round(n / self.samples, 2)
                for statement, n in self.statements.most_common(5)
            }
            if self.samples
            else {},
            "machine_cpu_busy": self.machine_busy,
            "postgres_cpu_seconds": None if self.server_cpu is None else round(self.server_cpu, 2),
        }


def _proc_stat() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs since boot (Linux)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return (0, 0)
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle, sum(fields))


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the PostgreSQL postmaster and its backends so far (None: no psutil)."""
    try:
        import psutil
    except ImportError:
        return None
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        # Backends that ended (a worker's connections when it stops) count in the postmaster's
        # reaped-children times; the live ones in their own.
        own = root.cpu_times()
        total = own.children_user + own.children_system
        for proc in [root, *root.children(recursive=True)]:  # the postmaster and live backends
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                continue
        return total
    except psutil.NoSuchProcess:
        return None


def _run_queue() -> float:
    """Seconds this process's threads waited for a CPU while ready to run (Linux schedstat)."""
    total = 0
    for task in Path("/proc/self/task").glob("*/schedstat"):
        try:
            total += int(task.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1e9


def run_workers(
    url: str, now: datetime, workers: int, batch_size: int, server_pid: int | None = None
) -> dict[str, Any]:
    """Start `workers` processes on one database; their combined figures."""
    command = [sys.executable, __file__, "--worker", url, "--now", now.isoformat()]
    command += ["--batch-size", str(batch_size)]
    load_before = os.getloadavg()
    with Sampler(url, server_pid) as sampler:
        procs = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(workers)
        ]
        results = []
        for proc in procs:
            out, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"a worker failed with exit code {proc.returncode}")
            results.append(json.loads(out))
    seconds = max(r["end"] for r in results) - min(r["start"] for r in results)
    cases = sum(r["cases"] for r in results)
    cpu = sum(r["cpu_seconds"] for r in results)
    return {
        "workers": workers,
        "cases": cases,
        "transitions": sum(r["transitions"] for r in results),
        "messages": sum(r["messages"] for r in results),
        "seconds": round(seconds, 3),
        "case_steps_per_s": round(cases / seconds, 1),
        "messages_per_s": round(sum(r["messages"] for r in results) / seconds, 1),
        "cpu_ms_per_step": round(1000 * cpu / cases, 3) if cases else None,
        "per_worker_cases": [r["cases"] for r in results],
        # Where each worker's time went: in Runtime.tick and in Dispatcher.dispatch.
        "per_worker_tick_seconds": [r["tick_seconds"] for r in results],
        "per_worker_dispatch_seconds": [r["dispatch_seconds"] for r in results],
        "per_worker_peak_rss_mb": [r["peak_rss_mb"] for r in results],
        # Time the workers' threads were ready to run and waited for a CPU (all of them).
        "cpu_wait_seconds": round(sum(r["cpu_wait_seconds"] for r in results), 2),
        "load_average_before": [round(x, 2) for x in load_before],
        **sampler.figures(),
    }


def server_pid(url: str) -> int | None:
    """The postmaster's pid of the server behind `url` (from the server itself)."""
    from sqlalchemy import text

    from engine.storage.db import Database

    db = Database(url)
    try:
        with db.engine.connect() as connection:
            directory = connection.execute(text("SHOW data_directory")).scalar_one()
        return int((Path(directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError):
        return None
    finally:
        db.dispose()


def copy_of(template_url: str, name: str) -> str:
    """A fresh database holding the template's state; its URL."""
    from sqlalchemy import make_url, text

    from engine.storage.db import Database

    url = make_url(template_url)
    admin = Database(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def measure(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """Build the portfolio once, then time each worker count and the floor on copies."""
    from daily_run import DEFAULT_JOURNEY, Floor, build_portfolio, enter_journeys, progress
    from sqlalchemy import text

    from engine.rules.compiler import CompiledJourney
    from engine.storage.db import Database

    doc = json.loads(DEFAULT_JOURNEY.read_text(encoding="utf-8"))
    db = Database(url)
    version_id = build_portfolio(db, doc, args.cases, args.seed)
    now = enter_journeys(db, args.batch_size)
    with db.engine.connect() as conn:
        conn.execute(text("CHECKPOINT"))
        compiled = conn.execute(
            text("SELECT compiled FROM journey_versions WHERE id = :id"), {"id": version_id}
        ).scalar_one()
    db.dispose()
    runs = []
    for workers in args.workers:
        progress(f"timing {workers} worker(s)")
        copy = copy_of(url, f"scale_w{workers}")
        runs.append(run_workers(copy, now, workers, args.batch_size, server_pid(url)))
    base = runs[0]["case_steps_per_s"]
    for run in runs:
        run["speed_up"] = round(run["case_steps_per_s"] / base, 2)
    progress("timing the SQL floor")
    floor_db = Database(copy_of(url, "scale_floor"))
    floor = Floor(doc, CompiledJourney.from_json(compiled))
    started = time.perf_counter()
    counts = floor.run(floor_db, now, args.batch_size)
    floor_seconds = time.perf_counter() - started
    floor_db.dispose()
    return {
        "cases": args.cases,
        "batch_size": args.batch_size,
        "cpus": os.cpu_count(),
        "runs": runs,
        "floor_case_steps_per_s": round(counts["cases"] / floor_seconds, 1),
        "floor_seconds": round(floor_seconds, 3),
    }


def main() -> None:
    """Parse arguments; run as the bench or (internally) as one worker."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000, help="due cases in the portfolio")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2, 4],
        help="worker counts to time, the first being the base of the speed-up",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="cases claimed per batch")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic portfolio")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(work(args.worker, datetime.fromisoformat(args.now), args.batch_size)))
        return
    if args.cases < 1 or min(args.workers) < 1:
        parser.error("--cases and --workers must be at least 1")

    from daily_run import pgserver_database

    with tempfile.TemporaryDirectory(prefix="mahnwerk-scale-out-") as tmp:  # noqa: SIM117
        with pgserver_database(Path(tmp)) as url:
            figures = measure(args, url)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['cases']:,} due cases on PostgreSQL (pgserver), {figures['cpus']} CPUs")
    print(
        "workers  case steps/s  messages/s  speed-up  CPU ms/step  "
        "per worker: peak RSS MB, tick s + dispatch s"
    )
    for run in figures["runs"]:
        per_worker = ", ".join(
            f"{mb:.0f} MB {t:.1f}+{d:.1f} s"
            for mb, t, d in zip(
                run["per_worker_peak_rss_mb"],
                run["per_worker_tick_seconds"],
                run["per_worker_dispatch_seconds"],
                strict=True,
            )
        )
        print(
            f"{run['workers']:>7}  {run['case_steps_per_s']:>12,.0f}  "
            f"{run['messages_per_s']:>10,.0f}  {run['speed_up']:>7.2f}x  "
            f"{run['cpu_ms_per_step']:>11}  {per_worker}"
        )
    print(
        f"SQL floor (tick writes, one process): {figures['floor_case_steps_per_s']:,.0f} "
        f"case steps/s ({figures['floor_seconds']} s)"
    )
    print("where the workers' database sessions were (mean sessions per state), machine CPU:")
    for run in figures["runs"]:
        states = ", ".join(f"{k} {v}" for k, v in run["sessions_by_state"].items())
        print(
            f"{run['workers']:>7}  CPU busy {run['machine_cpu_busy']:.0%}, PostgreSQL "
            f"{run['postgres_cpu_seconds']} CPU s, workers waited {run['cpu_wait_seconds']} s "
            f"for a CPU, load before {run['load_average_before']}; "
            f"{states}"
        )


if __name__ == "__main__":
    main()
