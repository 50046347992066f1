"""Journey graph -> durable_rules ruleset: names, priorities, posted fields, durable's JSON."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.journey.document import load_journey
from engine.rules.compiler import CompiledJourney, compile_journey
from engine.rules.evaluator import get_evaluator
from engine.rules.model import UNMATCHED
from tests.factories import edge, example_doc, journey_doc, node


def compiled(doc: dict[str, Any] | None = None, version: int | str = 1) -> CompiledJourney:
    return compile_journey(load_journey(doc or example_doc("minimal")), version)


def branches_doc(*branches: tuple[str, float]) -> dict[str, Any]:
    """start -> condition with `amount_open > value` branches (in this order) -> ends."""
    condition = node(
        "check",
        "condition",
        branches=[
            {"port": port, "when": [{"field": "amount_open", "op": "gt", "value": value}]}
            for port, value in branches
        ],
    )
    ports = [port for port, _ in branches] + ["else"]
    return journey_doc(
        key="branches",
        nodes=[node("start", "start"), condition, node("done", "end", outcome="closed")],
        edges=[edge("start", "check")] + [edge("check", "done", p) for p in ports],
        templates={},
    )


def test_ruleset_name_carries_key_version_and_a_content_hash() -> None:
    assert re.fullmatch(r"minimal\.v7\.[0-9a-f]{12}", compiled(version=7).ruleset)


def test_the_hash_changes_when_a_wait_changes() -> None:
    doc = example_doc("minimal")
    doc["nodes"][1]["params"]["days"] = 8

    assert compiled(doc).ruleset != compiled().ruleset


def test_the_hash_changes_when_a_wire_moves() -> None:
    doc = example_doc("minimal")
    doc["edges"][-1]["to"] = "big"

    assert compiled(doc).ruleset != compiled().ruleset


def test_the_hash_changes_when_a_condition_value_changes() -> None:
    doc = example_doc("minimal")
    doc["nodes"][4]["params"]["branches"][0]["when"][0]["value"] = 500

    assert compiled(doc).ruleset != compiled().ruleset


def test_the_hash_stays_when_only_positions_change() -> None:
    doc = example_doc("minimal")
    for n in doc["nodes"]:
        n["position"] = {"x": n["position"]["x"] + 13, "y": -n["position"]["y"]}

    assert compiled(doc).ruleset == compiled().ruleset


def test_the_hash_stays_when_the_document_is_compiled_again() -> None:
    assert compiled().ruleset == compiled().ruleset


def test_first_branch_gets_the_highest_priority_and_else_the_lowest() -> None:
    rules = compiled(branches_doc(("huge", 1000), ("large", 100))).rules

    assert [(r.port, r.pri) for r in rules if r.node == "check"] == [
        ("huge", 1),
        ("large", 2),
        ("else", 3),
    ]


def test_swapping_branches_swaps_their_priorities() -> None:
    rules = compiled(branches_doc(("large", 100), ("huge", 1000))).rules

    assert [(r.port, r.pri) for r in rules if r.node == "check"] == [
        ("large", 1),
        ("huge", 2),
        ("else", 3),
    ]


def test_only_fields_that_conditions_use_are_posted() -> None:
    assert compiled().fields == ("amount_open",)


def test_a_journey_without_conditions_posts_no_fields() -> None:
    assert compiled(journey_doc()).fields == ()


def test_entry_filter_fields_are_posted_once_each_in_order() -> None:
    doc = example_doc("minimal")
    doc["nodes"][0]["params"]["filter"] = [
        {"field": "country", "op": "eq", "value": "DE"},
        {"field": "amount_open", "op": "gte", "value": 5},
    ]

    assert compiled(doc).fields == ("amount_open", "country")


def test_an_entry_filter_adds_a_rule_that_ends_ineligible_cases() -> None:
    doc = example_doc("minimal")
    doc["nodes"][0]["params"]["filter"] = [{"field": "country", "op": "eq", "value": "DE"}]

    rules = [r for r in compiled(doc).rules if r.node == "start"]

    assert [(r.port, r.target, r.outcome, r.otherwise) for r in rules] == [
        ("next", "wait_7", None, False),
        ("ineligible", None, "not_eligible", True),
    ]


def test_each_rule_leads_where_its_port_is_wired() -> None:
    targets = {(r.node, r.port): r.target for r in compiled().rules}

    assert targets[("big", "large")] == "second" and targets[("big", "else")] == "closed"


def test_rule_ids_are_unique() -> None:
    ids = [r.id for r in compiled().rules]

    assert len(ids) == len(set(ids))


def test_triggers_list_what_each_node_listens_to() -> None:
    triggers = compiled().triggers

    assert triggers["wait_pay"] == frozenset({"event:payment_received", "timer"})


def test_end_nodes_have_no_rules() -> None:
    assert {r.node for r in compiled().rules}.isdisjoint({"paid", "closed"})


def test_stored_json_loads_back_to_the_same_compiled_journey() -> None:
    original = compiled()

    loaded = CompiledJourney.from_json(json.loads(json.dumps(original.to_json())))

    assert (loaded.ruleset, loaded.rules, loaded.fields, loaded.triggers) == (
        original.ruleset,
        original.rules,
        original.fields,
        original.triggers,
    )


def test_definition_is_plain_json() -> None:
    definition = compiled().definition()

    assert json.loads(json.dumps(definition)) == definition


def test_definition_has_one_durable_rule_per_rule_and_a_catch_all() -> None:
    journey = compiled()

    body = journey.definition()[journey.ruleset]

    assert set(body) == {r.id for r in journey.rules} | {"catch_all"}
    assert body["catch_all"]["run"] == UNMATCHED


def test_definition_scopes_each_rule_to_its_node_and_trigger() -> None:
    journey = compiled()

    rule = journey.definition()[journey.ruleset]["big:enter:0"]

    assert rule == {
        "all": [
            {"m": {"$and": [{"node": "big"}, {"trigger": "enter"}, {"$gt": {"amount_open": 100}}]}}
        ],
        "pri": 1,
        "run": "big:enter:0",
    }


def test_definition_registers_with_durable_and_picks_the_wired_rule() -> None:
    journey = compiled(branches_doc(("huge", 1000), ("large", 100)))
    evaluator = get_evaluator()
    evaluator.ensure(journey.definition())

    fired = evaluator.evaluate(
        journey.ruleset, [{"node": "check", "trigger": "enter", "amount_open": 150.0}]
    )

    assert fired == ["check:enter:1"]


def test_in_and_not_in_compile_to_durable_or_and_and() -> None:
    doc = branches_doc(("de", 0))
    doc["nodes"][1]["params"]["branches"] = [
        {"port": "de", "when": [{"field": "country", "op": "in", "value": ["DE", "AT"]}]},
        {"port": "us", "when": [{"field": "country", "op": "not_in", "value": ["DE", "AT"]}]},
    ]
    doc["edges"].append(edge("check", "done", "us"))
    journey = compiled(doc)
    body = journey.definition()[journey.ruleset]

    assert body["check:enter:0"]["all"][0]["m"]["$and"][2] == {
        "$or": [{"country": "DE"}, {"country": "AT"}]
    }
    assert body["check:enter:1"]["all"][0]["m"]["$and"][2] == {
        "$and": [{"$neq": {"country": "DE"}}, {"$neq": {"country": "AT"}}]
    }
