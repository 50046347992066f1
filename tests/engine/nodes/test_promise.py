"""The promise step: kept, broken, and 'none' for a case that never promised."""

from __future__ import annotations

from datetime import timedelta

from engine import Database, Runtime, VirtualClock, journey_sentences
from engine.journey.document import load_journey, upgrade
from engine.rules.compiler import compile_journey
from tests.factories import case_row, edge, journey_doc, make_case, node, publish


def promise_doc(version: int = 3) -> dict:
    """start -> promise; kept -> paid end, broken -> reminder end, none -> its own end."""
    nodes = [
        node("start", "start"),
        node("watch", "promise", grace_days=2),
        node("kept", "end", outcome="paid"),
        node("broken", "end", outcome="closed"),
        node("never", "end", outcome="written_off"),
    ]
    edges = [
        edge("start", "watch"),
        edge("watch", "kept", "kept"),
        edge("watch", "broken", "broken"),
        edge("watch", "never", "none"),
    ]
    return journey_doc(nodes, edges, templates={}, schema_version=version)


def test_a_case_without_a_promise_leaves_by_none_not_broken(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        version = publish(session, promise_doc(), clock.now)
        external_id = make_case(session, version, clock.now).external_id

    Runtime(db).tick(clock.now + timedelta(minutes=1))

    with db.transaction() as session:
        row = case_row(session, external_id)
        assert (row.status, row.outcome) == ("closed", "written_off")


def test_the_no_promise_rule_reads_without_repeating_itself() -> None:
    journey = load_journey(promise_doc())

    sentences = journey_sentences(compile_journey(journey, 1), journey)

    assert "When a case arrives at 'watch' and there is no promise, go to 'never'." in sentences
    assert not any("without a promise" in s for s in sentences)
    german = journey_sentences(compile_journey(journey, 1), journey, "de")
    assert "Wenn ein Fall bei 'watch' ankommt und keine Zahlungszusage vorliegt" in german[1]


def test_a_version_2_journey_wires_none_where_broken_leads() -> None:
    doc = promise_doc(version=2)
    doc["edges"] = [e for e in doc["edges"] if e["port"] != "none"]

    upgraded = upgrade(doc)

    assert upgraded["schema_version"] == 3
    assert {"from": "watch", "port": "none", "to": "broken"} in upgraded["edges"]
    assert "none" not in {e["port"] for e in doc["edges"]}  # the given document is untouched


def test_a_version_2_journey_that_wired_none_keeps_its_wire() -> None:
    doc = promise_doc(version=2)

    upgraded = upgrade(doc)

    assert [e for e in upgraded["edges"] if e["port"] == "none"] == [
        {"from": "watch", "port": "none", "to": "never"}
    ]
