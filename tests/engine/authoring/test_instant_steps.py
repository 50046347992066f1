"""Validation finds what the runtime would stop a case on: too many rules in one tick."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import Database, Runtime
from engine.authoring.validation import validate_document
from engine.nodes.base import MAX_STEPS_PER_TICK
from tests.factories import case_row, edge, example_doc, journey_doc, make_case, node, publish

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def loop_through(wait: dict[str, Any], port: str = "next") -> dict[str, Any]:
    """minimal.json where the second reminder goes back to the amount check through `wait`."""
    doc = example_doc("minimal")
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] != "wait_14"] + [wait]
    doc["edges"] = [e for e in doc["edges"] if e["from"] not in ("second", "wait_14")]
    doc["edges"] += [edge("second", wait["id"]), edge(wait["id"], "big", port)]
    if wait["type"] == "wait_event":
        doc["edges"] += [edge(wait["id"], "closed", e) for e in wait["params"]["events"]]
    return doc


def conditions(count: int) -> dict[str, Any]:
    """start -> `count` conditions one after another -> end: no wait anywhere."""
    when = [{"field": "amount_open", "op": "gt", "value": 0}]
    nodes, edges, previous = [node("start", "start")], [], "start"
    for i in range(count):
        nodes.append(node(f"c{i}", "condition", branches=[{"port": "open", "when": when}]))
        edges.append(edge(previous, f"c{i}", "open" if previous != "start" else "next"))
        if previous != "start":
            edges.append(edge(previous, "done", "else"))
        previous = f"c{i}"
    nodes.append(node("done", "end", outcome="closed"))
    edges += [edge(previous, "done", "open"), edge(previous, "done", "else")]
    return journey_doc(nodes=nodes, edges=edges, templates={})


def problems(doc: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(p.node, p.text("en")) for p in validate_document(doc)[1]]


ZERO_LOOP = (
    "These steps form a loop in which every wait can be over at once: 'big', 'second', 'w'. "
    "A case would go round until the engine stops it; make a wait longer than zero."
)


@pytest.mark.parametrize(
    ("params", "port", "kind"),
    [
        ({"mode": "duration", "days": 0}, "next", "wait"),
        ({"mode": "duration", "days": 0, "hours": 0, "at_time": "09:00"}, "next", "wait"),
        ({"mode": "business_days", "days": 0}, "next", "wait"),
        ({"mode": "due_date", "days": 14}, "next", "wait"),
        ({"events": ["payment_received"], "timeout_days": 0}, "timeout", "wait_event"),
    ],
)
def test_a_loop_whose_waits_can_all_be_zero_is_refused_naming_its_steps(
    params: dict[str, Any], port: str, kind: str
) -> None:
    assert problems(loop_through(node("w", kind, **params), port)) == [("big", ZERO_LOOP)]


@pytest.mark.parametrize(
    ("params", "port", "kind"),
    [
        ({"mode": "duration", "days": 1}, "next", "wait"),
        ({"mode": "duration", "days": 0, "hours": 1}, "next", "wait"),
        ({"mode": "business_days", "days": 1}, "next", "wait"),
        ({"events": ["payment_received"], "timeout_days": 1}, "timeout", "wait_event"),
    ],
)
def test_a_loop_through_a_wait_that_takes_time_is_fine(
    params: dict[str, Any], port: str, kind: str
) -> None:
    assert problems(loop_through(node("w", kind, **params), port)) == []


def test_the_zero_wait_loop_reads_in_german() -> None:
    doc = loop_through(node("w", "wait", mode="duration", days=0))

    assert [p.text("de") for p in validate_document(doc)[1]] == [
        "Diese Schritte bilden eine Schleife, in der jedes Warten sofort vorbei sein kann: "
        "'big', 'second', 'w'. Ein Fall liefe im Kreis, bis die Engine ihn anhält; "
        "lassen Sie ein Warten länger als null dauern."
    ]


def test_a_path_of_more_instant_steps_than_the_runtime_takes_is_refused_naming_its_ends() -> None:
    assert MAX_STEPS_PER_TICK == 64
    assert problems(conditions(MAX_STEPS_PER_TICK - 1)) == []

    assert problems(conditions(100)) == [
        (
            "start",
            "From here to 'c99' a case can take 101 steps at once without waiting; the engine "
            "stops a case after 64 steps in one go. Add a wait on the way.",
        )
    ]
    found = validate_document(conditions(MAX_STEPS_PER_TICK))[1]
    assert [(p.node, p.text("de")) for p in found] == [
        (
            "start",
            "Von hier bis 'c63' kann ein Fall 65 Schritte auf einmal gehen, ohne zu warten; die "
            "Engine hält einen Fall nach 64 Schritten am Stück an. Fügen Sie unterwegs ein "
            "Warten ein.",
        )
    ]


def test_the_longest_path_validation_lets_through_runs_in_one_tick(db: Database) -> None:
    with db.transaction() as session:
        version = publish(session, conditions(MAX_STEPS_PER_TICK - 1), NOW)
        external_id = make_case(session, version, NOW).external_id

    report = Runtime(db).tick(NOW)

    with db.transaction() as session:
        row = case_row(session, external_id)
        assert (row.status, row.outcome, report.errors) == ("closed", "closed", 0)
