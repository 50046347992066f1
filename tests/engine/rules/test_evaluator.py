"""The stateless evaluator: priorities, else, unmatched messages, batches, threads, memory."""

from __future__ import annotations

import threading
import time
from typing import Any

import psutil
import pytest

from engine.journey.document import load_journey
from engine.rules.compiler import CompiledJourney, compile_journey
from engine.rules.evaluator import BATCH, Evaluator, get_evaluator
from tests.factories import edge, journey_doc, node


def overlapping_branches(key: str = "evaluator") -> CompiledJourney:
    """A condition whose first two branches both hold for large amounts."""
    condition = node(
        "check",
        "condition",
        branches=[
            {"port": "huge", "when": [{"field": "amount_open", "op": "gt", "value": 1000}]},
            {"port": "large", "when": [{"field": "amount_open", "op": "gt", "value": 100}]},
        ],
    )
    doc = journey_doc(
        key=key,
        nodes=[
            node("start", "start"),
            condition,
            node("wait", "wait", days=1),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "check"),
            edge("check", "done", "huge"),
            edge("check", "done", "large"),
            edge("check", "wait", "else"),
            edge("wait", "done"),
        ],
        templates={},
    )
    return compile_journey(load_journey(doc), 1)


@pytest.fixture(scope="module")
def journey() -> CompiledJourney:
    compiled = overlapping_branches()
    get_evaluator().ensure(compiled.definition())
    return compiled


def at_check(amount: float) -> dict[str, Any]:
    return {"node": "check", "trigger": "enter", "amount_open": amount}


def fired(journey: CompiledJourney, *messages: dict[str, Any]) -> list[str | None]:
    return get_evaluator().evaluate(journey.ruleset, list(messages))


def test_the_first_branch_wins_when_two_hold(journey: CompiledJourney) -> None:
    assert fired(journey, at_check(5000)) == ["check:enter:0"]


def test_the_second_branch_fires_when_only_it_holds(journey: CompiledJourney) -> None:
    assert fired(journey, at_check(500)) == ["check:enter:1"]


def test_else_fires_when_no_branch_holds(journey: CompiledJourney) -> None:
    assert fired(journey, at_check(50)) == ["check:enter:2"]


def test_else_fires_when_the_field_was_not_posted(journey: CompiledJourney) -> None:
    assert fired(journey, {"node": "check", "trigger": "enter"}) == ["check:enter:2"]


def test_a_message_no_rule_wants_gives_none(journey: CompiledJourney) -> None:
    assert fired(journey, {"node": "check", "trigger": "timer", "amount_open": 5000}) == [None]


def test_a_message_for_an_unknown_node_gives_none(journey: CompiledJourney) -> None:
    assert fired(journey, {"node": "elsewhere", "trigger": "enter"}) == [None]


def test_timer_rule_fires_at_a_wait(journey: CompiledJourney) -> None:
    assert fired(journey, {"node": "wait", "trigger": "timer"}) == ["wait:timer:0"]


def test_no_messages_give_no_results(journey: CompiledJourney) -> None:
    assert fired(journey) == []


def test_a_batch_of_5000_gives_results_in_message_order(journey: CompiledJourney) -> None:
    amounts = [(5000, 500, 50, None)[i % 4] for i in range(5000)]
    messages = [
        at_check(a) if a is not None else {"node": "check", "trigger": "timer"} for a in amounts
    ]
    expected = {5000: "check:enter:0", 500: "check:enter:1", 50: "check:enter:2", None: None}

    assert fired(journey, *messages) == [expected[a] for a in amounts]


def test_a_batch_larger_than_one_post_is_split_and_kept_in_order(
    journey: CompiledJourney,
) -> None:
    count = BATCH * 2 + 7
    messages = [at_check(5000 if i % 3 else 50) for i in range(count)]

    results = fired(journey, *messages)

    assert results == ["check:enter:0" if i % 3 else "check:enter:2" for i in range(count)]


def test_the_same_ruleset_can_be_ensured_twice(journey: CompiledJourney) -> None:
    evaluator = get_evaluator()

    evaluator.ensure(journey.definition())
    evaluator.ensure(overlapping_branches().definition())

    assert fired(journey, at_check(500)) == ["check:enter:1"]


def test_the_evaluator_is_one_per_process() -> None:
    assert get_evaluator() is get_evaluator()


def test_the_evaluator_does_not_mutate_the_definition_it_is_given() -> None:
    definition = overlapping_branches("evaluator-copy").definition()
    before = repr(definition)

    get_evaluator().ensure(definition)

    assert repr(definition) == before


def test_threads_evaluating_at_once_each_get_their_own_answers(
    journey: CompiledJourney,
) -> None:
    results: dict[int, list[str | None]] = {}

    def work(n: int) -> None:
        amount = (5000, 500, 50, 2000)[n]
        results[n] = fired(journey, *[at_check(amount)] * 3000)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    expected = ["check:enter:0", "check:enter:1", "check:enter:2", "check:enter:0"]
    assert [set(results[n]) for n in range(4)] == [{e} for e in expected]


def test_a_batch_leaves_nothing_behind_for_the_next(journey: CompiledJourney) -> None:
    batch = [at_check(500)] * 100 + [{"node": "check", "trigger": "timer"}] * 100

    assert fired(journey, *batch) == fired(journey, *batch)


@pytest.mark.slow
def test_unmatched_messages_do_not_pile_up(journey: CompiledJourney) -> None:
    unmatched = [{"node": "check", "trigger": "timer", "amount_open": 1.0}] * 100_000
    fired(journey, *unmatched[:10_000])  # warm up allocator and caches
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.monotonic()

    results = fired(journey, *unmatched)

    grown_mb = (process.memory_info().rss - before) / 1e6
    assert set(results) == {None}
    assert grown_mb < 20, f"RSS grew {grown_mb:.1f} MB in {time.monotonic() - started:.1f} s"


def test_a_fresh_evaluator_instance_shares_durables_global_core() -> None:
    """durable's C core is global: a second Evaluator must not be needed, but must not crash."""
    evaluator = Evaluator()
    compiled = overlapping_branches("evaluator-fresh")
    evaluator.ensure(compiled.definition())

    assert evaluator.evaluate(compiled.ruleset, [at_check(500)]) == ["check:enter:1"]
