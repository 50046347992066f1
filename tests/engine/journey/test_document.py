"""The journey document: round trip, stepwise upgrades, refusal of newer versions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from marshmallow import ValidationError

from engine.authoring.validation import validate_document
from engine.journey import document
from engine.journey.document import SCHEMA_VERSION, dump_journey, load_journey, upgrade
from tests.factories import example_doc


def v1_doc() -> dict[str, Any]:
    """minimal.json as it was stored before jurisdictions existed."""
    doc = example_doc("minimal")
    doc["schema_version"] = 1
    del doc["jurisdiction"]
    return doc


def test_dump_of_a_loaded_document_loads_and_dumps_to_the_same_json() -> None:
    canonical = dump_journey(load_journey(example_doc("minimal")))

    again = dump_journey(load_journey(json.loads(json.dumps(canonical))))

    assert json.dumps(again, sort_keys=True) == json.dumps(canonical, sort_keys=True)


def test_round_trip_keeps_nodes_edges_and_templates_of_the_example() -> None:
    original = example_doc("minimal")

    dumped = dump_journey(load_journey(original))

    assert (dumped["nodes"], dumped["edges"], dumped["templates"]) == (
        original["nodes"],
        original["edges"],
        original["templates"],
    )


def test_round_trip_keeps_an_html_variant() -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["html"] = "<p>{{ reference }}</p>"

    dumped = dump_journey(load_journey(doc))

    assert dumped["templates"]["reminder"]["variants"][0]["html"] == "<p>{{ reference }}</p>"


def test_a_version_1_document_loads_as_the_current_version() -> None:
    journey = load_journey(v1_doc())

    assert (journey.schema_version, journey.jurisdiction) == (SCHEMA_VERSION, "NONE")


def test_upgrade_does_not_change_the_document_it_is_given() -> None:
    doc = v1_doc()

    upgrade(doc)

    assert doc["schema_version"] == 1 and "jurisdiction" not in doc


def test_upgrade_runs_each_step_once_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[int] = []

    def two_to_three(doc: dict[str, Any]) -> dict[str, Any]:
        steps.append(2)
        return {**doc, "schema_version": 3}

    def one_to_two(doc: dict[str, Any]) -> dict[str, Any]:
        steps.append(1)
        return document._v1_to_v2(doc)

    monkeypatch.setattr(document, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(document, "UPGRADES", {1: one_to_two, 2: two_to_three})

    upgraded = upgrade(v1_doc())

    assert (steps, upgraded["schema_version"]) == ([1, 2], 3)


def test_a_newer_schema_version_is_refused_naming_both_versions() -> None:
    doc = example_doc("minimal")
    doc["schema_version"] = SCHEMA_VERSION + 1

    with pytest.raises(ValidationError) as caught:
        load_journey(doc)

    assert caught.value.messages == {
        "schema_version": [
            f"Version {SCHEMA_VERSION + 1} is newer than this Mahnwerk ({SCHEMA_VERSION})."
        ]
    }


def test_a_newer_schema_version_is_reported_as_a_problem_on_schema_version() -> None:
    doc = example_doc("minimal")
    doc["schema_version"] = SCHEMA_VERSION + 1

    journey, problems = validate_document(doc)

    assert journey is None
    assert [p.field for p in problems] == ["schema_version"]


def test_a_missing_schema_version_is_refused() -> None:
    doc = example_doc("minimal")
    del doc["schema_version"]

    with pytest.raises(ValidationError, match="schema_version"):
        load_journey(doc)


def test_positions_are_kept_apart_from_params() -> None:
    journey = load_journey(example_doc("minimal"))

    wait = journey.node("wait_7")

    assert (wait.position, "position" in wait.params) == ({"x": 240.0, "y": 200.0}, False)
