"""Print the cost of one contact-policy decision in µs, for an allowed and a deferred send."""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# Run from a checkout without installing: the repo root holds the engine package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.contact_policy import DE, ContactContext, SentRecord, decide


def _cases() -> dict[str, tuple[Any, ...]]:
    """Build a realistic allowed case and a deferred case (quiet hours plus a full cap)."""
    berlin = ZoneInfo("Europe/Berlin")
    context = ContactContext(
        time_zone="Europe/Berlin",
        country="DE",
        subdivision="BY",
        channel="sms",
        consents={"sms": True},
    )
    # Ten earlier messages over six weeks: a typical journey's history for one debt, in UTC as
    # the outbox stores it.
    start = datetime(2026, 4, 1, 8, tzinfo=UTC)
    history = [
        SentRecord("email" if i % 2 else "sms", start + timedelta(days=4 * i)) for i in range(10)
    ]
    allowed_at = datetime(2026, 5, 12, 11, tzinfo=berlin)  # Tuesday morning, nothing blocks
    deferred_at = datetime(2026, 5, 12, 21, 30, tzinfo=berlin)  # after hours
    return {
        "allowed": (DE, context, history, allowed_at),
        "deferred": (DE, context, history, deferred_at),
    }


def measure(number: int = 20000, repeat: int = 5) -> dict[str, float]:
    """Return the best-of-`repeat` µs per decision for each case."""
    figures = {}
    for name, args in _cases().items():
        decide(*args)  # warm the holiday and time-zone caches, as a running dispatcher has them
        best = min(timeit.repeat(partial(decide, *args), number=number, repeat=repeat))
        figures[f"{name}_us"] = round(best / number * 1e6, 2)
    return figures


def main() -> None:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON keys")
    parser.add_argument("--number", type=int, default=20000, help="decisions per timing run")
    args = parser.parse_args()
    figures = measure(number=args.number)
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name.removesuffix('_us')}: {value} µs per decision")


if __name__ == "__main__":
    main()
