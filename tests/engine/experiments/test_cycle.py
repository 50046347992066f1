"""Minimum runtime: the longest path's waits after the split, loops walked once."""

from __future__ import annotations

from engine.experiments.cycle import minimum_runtime
from tests.factories import edge, example_doc, journey_doc, node, split_doc


def test_the_longest_path_after_the_split_counts() -> None:
    assert minimum_runtime(split_doc(), "test") == 9  # 2 days, then 7 days


def test_due_date_waits_count_from_where_the_split_stands() -> None:
    nodes = [
        node("start", "start"),
        node("d7", "wait", mode="due_date", days=7),
        node(
            "ab",
            "split",
            experiment="x",
            arms=[{"name": "A", "weight": 50}, {"name": "B", "weight": 50}],
        ),
        node("d14", "wait", mode="due_date", days=14),
        node("ev", "wait_event", events=["payment_received"], timeout_days=10),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "d7"),
        edge("d7", "ab"),
        edge("ab", "d14", "A"),
        edge("ab", "done", "B"),
        edge("d14", "ev"),
        edge("ev", "done", "timeout"),
        edge("ev", "done", "payment_received"),
    ]
    assert minimum_runtime(journey_doc(nodes, edges), "ab") == 17  # D+7 -> D+14 -> +10


def test_a_journey_with_loops_ends() -> None:
    doc = example_doc("uk-arrears-forbearance")
    assert 0 < minimum_runtime(doc, "tone_test") < 365
