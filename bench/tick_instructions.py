"""Count the daily tick's CPU instructions with callgrind: a figure the host's load cannot move.

CPU seconds on a shared host swing by +-15 % between runs; callgrind's instruction count of
the same work repeats to 0.01 %. This script builds a `daily_run.py` portfolio, lets every
case enter its journey, then runs one timed-run tick inside `functools.reduce`, so that
callgrind, told to collect only inside that C function, counts the tick and nothing else:

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
        python bench/tick_instructions.py --cases 3000

Run it in two checkouts (e.g. with and without a change) and compare the 'I refs' lines;
`callgrind_annotate` on the two output files shows where the difference goes. With `--floor`
the raw SQLite floor (`daily_run.RawSqliteFloor`: the same rows on the bare driver) is counted
instead of the tick: the two counts give the engine/floor ratio independent of the host's load.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import daily_run  # noqa: E402
from sqlalchemy import text  # noqa: E402

from engine.rules.compiler import CompiledJourney  # noqa: E402
from engine.run.runtime import Runtime  # noqa: E402
from engine.storage.db import Database  # noqa: E402


def main() -> None:
    """Build, enter, then one tick inside functools.reduce (callgrind's collection window)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=3000, help="open cases in the portfolio")
    parser.add_argument("--journey", default=str(daily_run.DEFAULT_JOURNEY), help="journey JSON")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic portfolio")
    parser.add_argument("--batch-size", type=int, default=1000, help="cases claimed per batch")
    parser.add_argument(
        "--floor", action="store_true", help="count the raw SQLite floor instead of the tick"
    )
    args = parser.parse_args()
    doc = json.loads(Path(args.journey).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as workdir:
        db = Database(f"sqlite:///{Path(workdir) / 'tick.sqlite'}")
        daily_run.build_portfolio(db, doc, args.cases, args.seed)
        now = daily_run.enter_journeys(db, args.batch_size)
        if args.floor:
            with db.transaction() as session:
                compiled = session.execute(text("SELECT compiled FROM journey_versions")).scalar()
            db.dispose()
            if isinstance(compiled, str):
                compiled = json.loads(compiled)
            floor = daily_run.RawSqliteFloor(doc, CompiledJourney.from_json(compiled))
            path = Path(workdir) / "tick.sqlite"
            counts = functools.reduce(lambda _a, _b: floor.run(path, now, args.batch_size), [0, 1])
            print(
                f"floor cases {counts['cases']} transitions {counts['transitions']}",
                file=sys.stderr,
            )
            return
        runtime = Runtime(db, batch_size=args.batch_size)
        report = functools.reduce(lambda _a, _b: runtime.tick(now), [0, 1])
        db.dispose()
    print(f"cases {report.cases} transitions {report.transitions}", file=sys.stderr)


if __name__ == "__main__":
    main()
