"""Time the journey's numbers on a large portfolio of analytics facts, and what keeping them costs.

Setup (not timed): a fresh SQLite file, a published journey with an A/B split, N case facts
and as many exposures bulk-inserted with sqlite3 (cases enter over a year, in id order, as
imports do), the cohort and arm counters those facts add up to, and a year of daily step
counts. Timed, each several times (the best and the
median are printed): the canvas numbers (step counts, waiting now, wires) for a 30-day period
and for the whole year; the dashboard for the same periods; the split's per-arm totals from
the arm counters, and (for comparison) joined from every exposed case's facts.

`--daily-run BASELINE` runs bench/daily_run.py from this checkout and from BASELINE (a checkout
without the facts, e.g. `git worktree add /tmp/base <commit>`) alternately, and prints the
cost of keeping the facts as the difference of the median tick times.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from engine.analytics.arms import arm_summary
from engine.analytics.dashboard import journey_dashboard
from engine.analytics.numbers import journey_numbers
from engine.analytics.writes import arm_counts_of, cohort_counts_of
from engine.authoring.versions import save_version
from engine.storage.db import Database
from engine.storage.models import CaseFactRow, ExposureRow

ROOT = Path(__file__).resolve().parents[1]
JOURNEY = ROOT / "journeys_examples" / "uk-arrears-forbearance.json"
START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
DAYS = 365
CHUNK = 50_000


def progress(message: str) -> None:
    print(f"[analytics] {message}", file=sys.stderr, flush=True)


def _text(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def build(path: Path, n: int, seed: int) -> tuple[str, str]:
    """The database with n facts; returns the journey key and the split's experiment."""
    doc = json.loads(JOURNEY.read_text(encoding="utf-8"))
    db = Database(f"sqlite:///{path}")
    db.create_all()
    with db.transaction() as session:
        version = save_version(session, doc, START, status="published", author="bench")
        version_id, journey_id = version.id, version.journey_id
    db.dispose()
    split = next(node for node in doc["nodes"] if node["type"] == "split")
    experiment = split["params"]["experiment"]
    nodes = [node["id"] for node in doc["nodes"]]
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    cohorts: Counter[Any] = Counter()
    arms: Counter[Any] = Counter()
    for first in range(1, n + 1, CHUNK):
        facts, exposures = [], []
        for case_id in range(first, min(first + CHUNK, n + 1)):
            entered = START + timedelta(seconds=(case_id - 1) * DAYS * 86400 // n)
            due = entered.date() - timedelta(days=rng.randint(1, 14))
            original = int(min(rng.lognormvariate(4.6, 0.8), 20000) * 100)
            draw = rng.random()
            paid_full = paid_first = None
            collected, payments = 0, 0
            if draw < 0.38:
                paid_full = entered + timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
                paid_first, collected, payments = paid_full, original, 1
            elif draw < 0.45:
                paid_first = entered + timedelta(days=rng.randint(1, 60))
                collected, payments = original // 2, 1
            messages = (rng.randint(0, 3), rng.randint(0, 2), rng.randint(0, 2))
            facts.append(
                (
                    case_id,
                    journey_id,
                    version_id,
                    "GBP",
                    original,
                    due.isoformat(),
                    _text(entered),
                    collected,
                    payments,
                    None if paid_first is None else _text(paid_first),
                    None if paid_first is None else _text(paid_first),
                    None if paid_full is None else _text(paid_full),
                    None if paid_full is None else (paid_full.date() - due).days,
                    *messages,
                    0,
                    messages[1] * 750,
                    messages[2] * 9500,
                    int(rng.random() < 0.005),
                    int(rng.random() < 0.01),
                    int(rng.random() < 0.002),
                    int(rng.random() < 0.02),
                )
            )
            exposures.append(
                (
                    case_id,
                    case_id,
                    journey_id,
                    experiment,
                    split["id"],
                    rng.choice("AB"),
                    _text(entered),
                )
            )
        connection.executemany(f"INSERT INTO case_facts VALUES ({', '.join('?' * 23)})", facts)
        parsed = [dict(zip(FACT_COLUMNS, _parsed(f), strict=True)) for f in facts]
        cohorts.update(cohort_counts_of(parsed))
        for fact, exposure in zip(parsed, exposures, strict=True):
            arms.update(
                arm_counts_of(
                    SimpleNamespace(**fact),
                    SimpleNamespace(
                        journey_id=journey_id,
                        experiment=experiment,
                        arm=exposure[5],
                        exposed_at=fact["entered_at"],
                    ),
                )
            )
        connection.executemany(
            "INSERT INTO experiment_exposures VALUES (?, ?, ?, ?, ?, ?, ?)", exposures
        )
        connection.commit()
        progress(
            f"{min(first + CHUNK - 1, n):,}/{n:,} facts ({time.perf_counter() - started:.1f} s)"
        )
    counts = []
    per_day = max(1, n // DAYS)
    for day in range(DAYS):
        when = (START + timedelta(days=day)).date().isoformat()
        for node in nodes:
            entered = rng.randint(per_day // 4, per_day)
            counts.append((journey_id, when, node, "entered", "", entered))
            counts.append((journey_id, when, node, "left", "next", entered * 9 // 10))
            counts.append((journey_id, when, node, "paid", "next", entered * 3 // 10))
            counts.append((journey_id, when, node, "closed", "paid", entered // 20))
    connection.executemany(
        "INSERT INTO step_counts (journey_id, day, node_id, kind, port, cases) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        counts,
    )
    connection.executemany(
        "INSERT INTO cohort_counts (journey_id, day, currency, metric, bucket, value) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [(j, d.isoformat(), c, m, b, v) for (j, d, c, m, b), v in cohorts.items()],
    )
    connection.executemany(
        "INSERT INTO arm_counts (journey_id, experiment, arm, day, currency, metric, bucket, "
        "value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(j, e, a, d.isoformat(), c, m, b, v) for (j, e, a, d, c, m, b), v in (+arms).items()],
    )
    connection.commit()
    connection.execute("ANALYZE")
    connection.close()
    progress(
        f"{len(counts):,} step count rows, {len(cohorts):,} cohort count rows, "
        f"{len(+arms):,} arm count rows; "
        f"built in {time.perf_counter() - started:.1f} s"
    )
    return doc["key"], experiment


FACT_COLUMNS = [c.name for c in CaseFactRow.__table__.c]


def _parsed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A fact row as inserted (text dates) with the two datetimes the counters read parsed."""
    values = list(row)
    for at in (6, 11):  # entered_at, paid_full_at
        if values[at] is not None:
            values[at] = datetime.fromisoformat(values[at])
    return tuple(values)


def timed(call: Callable[[], Any], rounds: int) -> dict[str, float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return {"best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3)}


def _summary(db: Database, key: str, experiment: str) -> Any:
    """The experiment page's per-arm totals from the arm counters."""
    with db.transaction() as session:
        return arm_summary(session, key, experiment)


def arm_totals(db: Database, key: str, experiment: str) -> list[Any]:
    """Per arm: cases, paid in full, collected, joined from every exposed case's facts."""
    f, e = CaseFactRow, ExposureRow
    with db.transaction() as session:
        return session.execute(
            select(e.arm, func.count(), func.count(f.paid_full_at), func.sum(f.collected_minor))
            .join(f, f.case_id == e.case_id)
            .where(e.experiment == experiment)
            .group_by(e.arm)
        ).all()


def measure_queries(path: Path, key: str, experiment: str, rounds: int) -> dict[str, Any]:
    db = Database(f"sqlite:///{path}")
    year = (START.date(), START.date() + timedelta(days=DAYS - 1))
    month = (year[1] - timedelta(days=29), year[1])

    def numbers(period: tuple[date, date]) -> Callable[[], Any]:
        def run() -> Any:
            with db.transaction() as session:
                return journey_numbers(session, key, *period)

        return run

    def dashboard(period: tuple[date, date]) -> Callable[[], Any]:
        def run() -> Any:
            with db.transaction() as session:
                return journey_dashboard(session, key, *period, cure_days=30)

        return run

    figures = {
        "canvas_numbers_30_days": timed(numbers(month), rounds),
        "canvas_numbers_year": timed(numbers(year), rounds),
        "dashboard_30_days": timed(dashboard(month), rounds),
        "dashboard_year": timed(dashboard(year), rounds),
        "arm_summary": timed(lambda: _summary(db, key, experiment), rounds),
        "arm_join_per_case": timed(lambda: arm_totals(db, key, experiment), rounds),
    }
    with db.transaction() as session:
        figures["dashboard_year_cases"] = journey_dashboard(session, key, *year).cases
    db.dispose()
    return figures


# The setup tick of bench/daily_run.py (every case enters its journey: a fact row each), timed
# in a fresh interpreter of the given checkout.
_ENTRY = """
import json, sys, tempfile, time
from pathlib import Path
sys.path[:0] = [{root!r}, {root!r} + "/bench"]
import daily_run
from engine.storage.db import Database
db = Database("sqlite:///" + str(Path(tempfile.mkdtemp()) / "entry.sqlite"))
doc = json.loads(Path(daily_run.DEFAULT_JOURNEY).read_text())
daily_run.build_portfolio(db, doc, {cases}, 1)
wall, cpu = time.perf_counter(), time.process_time()
daily_run.enter_journeys(db, 1000)
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"seconds": wall, "cpu_seconds": cpu}}))
"""


def entry_run(baseline: Path, cases: int, rounds: int) -> dict[str, Any]:
    """Median entering-tick times here and in `baseline` (fact rows are inserted there)."""
    cpu: dict[str, list[float]] = {"baseline": [], "facts": []}
    for _ in range(rounds):
        for name, root in (("baseline", baseline), ("facts", ROOT)):
            code = _ENTRY.format(root=str(root), cases=cases)
            out = subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root
            )
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            cpu[name].append(round(figures["cpu_seconds"], 3))
            progress(f"entering tick ({name}): {figures['cpu_seconds']:.3f} s CPU")
    base, facts = statistics.median(cpu["baseline"]), statistics.median(cpu["facts"])
    return {
        "entry_run_cases": cases,
        "entry_run_baseline_cpu_s": cpu["baseline"],
        "entry_run_facts_cpu_s": cpu["facts"],
        "entry_run_cost_cpu": round(facts / base - 1, 4),
    }


def daily_run(baseline: Path, cases: int, rounds: int) -> dict[str, Any]:
    """Median tick times of bench/daily_run.py here and in `baseline`, run alternately.

    CPU seconds are the figure that counts on a shared machine (wall time there measures the
    neighbours); both are printed.
    """
    runs: dict[str, list[float]] = {"baseline": [], "facts": []}
    cpu: dict[str, list[float]] = {"baseline": [], "facts": []}
    for _ in range(rounds):
        for name, root in (("baseline", baseline), ("facts", ROOT)):
            out = subprocess.run(
                [
                    sys.executable,
                    str(root / "bench" / "daily_run.py"),
                    "--cases",
                    str(cases),
                    "--skip-floor",
                    "--json",
                ],
                check=True,
                capture_output=True,
                text=True,
                cwd=root,
            )
            figures = json.loads(out.stdout)
            runs[name].append(figures["seconds"])
            cpu[name].append(figures["cpu_seconds"])
            progress(f"daily run ({name}): {figures['seconds']} s, {figures['cpu_seconds']} s CPU")

    def cost(times: dict[str, list[float]]) -> float:
        return round(
            statistics.median(times["facts"]) / statistics.median(times["baseline"]) - 1, 4
        )

    return {
        "daily_run_cases": cases,
        "daily_run_baseline_s": runs["baseline"],
        "daily_run_facts_s": runs["facts"],
        "daily_run_baseline_cpu_s": cpu["baseline"],
        "daily_run_facts_cpu_s": cpu["facts"],
        "daily_run_cost_wall": cost(runs),
        "daily_run_cost_cpu": cost(cpu),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="case facts in the portfolio")
    parser.add_argument("--rounds", type=int, default=5, help="timings per query")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--daily-run",
        type=Path,
        metavar="BASELINE",
        help="also measure the daily run's cost against this checkout",
    )
    parser.add_argument("--daily-run-cases", type=int, default=100_000)
    parser.add_argument("--daily-run-rounds", type=int, default=3)
    parser.add_argument(
        "--entry-run",
        action="store_true",
        help="with --daily-run: also time the entering tick (each case's fact row begins)",
    )
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures: dict[str, Any] = {}
    if not args.skip_queries:
        with tempfile.TemporaryDirectory(prefix="mahnwerk-analytics-") as tmp:
            path = Path(tmp) / "analytics.sqlite"
            key, experiment = build(path, args.cases, args.seed)
            figures["cases"] = args.cases
            figures["database_mb"] = round(path.stat().st_size / 2**20, 1)
            figures.update(measure_queries(path, key, experiment, args.rounds))
    if args.daily_run:
        figures.update(daily_run(args.daily_run, args.daily_run_cases, args.daily_run_rounds))
        if args.entry_run:
            figures.update(entry_run(args.daily_run, args.daily_run_cases, args.daily_run_rounds))
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:28} {value}")


if __name__ == "__main__":
    main()
