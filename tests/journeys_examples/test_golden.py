"""Golden tests: every example journey validates, compiles and simulates to its pinned result.

Regenerate the pinned results after an intended change with
`MAHNWERK_UPDATE_GOLDEN=1 .venv/bin/pytest tests/journeys_examples`, then review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine import Database, Runtime, VirtualClock, compile_journey, simulate, validate_document
from tests.factories import make_case, outbox_rows, publish

EXAMPLES = Path(__file__).resolve().parents[2] / "journeys_examples"
EXPECTED = EXAMPLES / "expected"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
# 200 cases over 90 days: every path of every example is taken, ~25 s for all four examples.
CASES, DAYS, SEED = 200, 90, 7
BERLIN = ZoneInfo("Europe/Berlin")
UPDATE = os.environ.get("MAHNWERK_UPDATE_GOLDEN") == "1"


def load(name: str) -> dict[str, Any]:
    """A fresh copy of an example document."""
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def rounded(value: Any) -> Any:
    """The value with every float rounded to 2 places, so platform noise cannot break a pin."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


@cache
def simulated(name: str) -> dict[str, Any]:
    """The simulation result of one example, run once per test session."""
    return rounded(simulate(load(name), cases=CASES, days=DAYS, seed=SEED).to_json())


def has_promise_node(name: str) -> bool:
    """Whether an example uses the promise node."""
    return any(n["type"] == "promise" for n in load(name)["nodes"])


@pytest.mark.parametrize("name", NAMES)
def test_example_has_no_problems(name: str) -> None:
    _, problems = validate_document(load(name))

    assert [str(p) for p in problems] == []


@pytest.mark.parametrize("name", NAMES)
def test_example_compiles_to_a_ruleset_of_its_own(name: str) -> None:
    journey, _ = validate_document(load(name))
    assert journey is not None

    compiled = compile_journey(journey)

    assert compiled.ruleset.startswith(f"{journey.key}.vdraft.")
    assert {r.node for r in compiled.rules} >= {n.id for n in journey.nodes if n.type != "end"}


@pytest.mark.parametrize("name", NAMES)
def test_simulation_matches_the_pinned_result(name: str) -> None:
    actual = simulated(name)
    path = EXPECTED / f"{name}.json"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no pinned result {path.name}; run with MAHNWERK_UPDATE_GOLDEN=1"
    expected = json.loads(path.read_text(encoding="utf-8"))

    summary = {k: v for k, v in actual.items() if k != "per_day"}
    assert summary == {k: v for k, v in expected.items() if k != "per_day"}
    assert actual["per_day"] == expected["per_day"]


@pytest.mark.parametrize("name", NAMES)
def test_simulation_sends_messages(name: str) -> None:
    messages = simulated(name)["messages"]

    assert sum(v for k, v in messages.items() if k != "webhook") > 0


@pytest.mark.parametrize("name", NAMES)
def test_simulation_has_paying_debtors(name: str) -> None:
    assert simulated(name)["outcomes"].get("paid", 0) > 0


@pytest.mark.parametrize("name", NAMES)
def test_no_case_stops_on_an_engine_error(name: str) -> None:
    assert "open:stopped" not in simulated(name)["outcomes"]


def test_simulated_time_covers_the_whole_run() -> None:
    result = simulated(NAMES[0])

    assert [d["day"] for d in result["per_day"]] == list(range(1, DAYS + 1))


def test_the_de_shop_sends_nothing_before_the_due_date(db: Database, clock: VirtualClock) -> None:
    """Cases handed over at invoice time wait: the first message goes out on D+1 at 09:00."""
    due = date(2026, 3, 16)  # two weeks after the clock's Monday 2 March 2026
    with db.transaction() as session:
        version = publish(session, load("de-shop-b2c"), clock.now)
        for _ in range(3):
            make_case(session, version, clock.now, due_date=due, street="Musterweg 1")
    runtime = Runtime(db)
    for _ in range(17 * 24):  # until D+3
        runtime.tick(clock.now)
        clock.advance(timedelta(hours=1))

    with db.transaction() as session:
        sent = [
            r.created_at.replace(tzinfo=UTC).astimezone(BERLIN).replace(tzinfo=None)
            for r in outbox_rows(session)
            if r.channel != "webhook" and r.status != "suppressed"
        ]

    assert sent == [datetime(2026, 3, 17, 9, 0)] * 3  # one reminder each, D+1 09:00 Berlin
