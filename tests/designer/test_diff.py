"""The pure diff of two journey documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from designer.diff import Change, diff_documents
from tests.factories import example_doc


@pytest.fixture
def old() -> dict[str, Any]:
    return example_doc("minimal")


@pytest.fixture
def new(old: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(old)


def _node(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def test_same_document_has_no_changes(old: dict, new: dict) -> None:
    assert diff_documents(old, new).empty


def test_moving_a_node_is_not_a_change(old: dict, new: dict) -> None:
    _node(new, "reminder")["position"] = {"x": 999, "y": 999}
    assert diff_documents(old, new).empty


def test_added_node(old: dict, new: dict) -> None:
    new["nodes"].append({"id": "extra", "type": "end", "label": "", "params": {}})
    assert diff_documents(old, new).nodes_added == ["extra"]


def test_removed_node(old: dict, new: dict) -> None:
    new["nodes"] = [n for n in new["nodes"] if n["id"] != "second"]
    assert diff_documents(old, new).nodes_removed == ["second"]


def test_changed_param(old: dict, new: dict) -> None:
    _node(new, "wait_14")["params"]["days"] = 21
    assert diff_documents(old, new).nodes_changed == {"wait_14": [Change("params.days", 14, 21)]}


def test_added_param(old: dict, new: dict) -> None:
    _node(new, "wait_14")["params"]["at_time"] = "09:00"
    changes = diff_documents(old, new).nodes_changed["wait_14"]
    assert changes == [Change("params.at_time", None, "09:00")]


def test_changed_label(old: dict, new: dict) -> None:
    before = _node(old, "closed")["label"]
    _node(new, "closed")["label"] = "Settled"
    changes = diff_documents(old, new).nodes_changed["closed"]
    assert changes == [Change("label", before, "Settled")]


def test_rewired_edge(old: dict, new: dict) -> None:
    edge = next(e for e in new["edges"] if e["from"] == "big" and e["port"] == "else")
    edge["to"] = "second"
    changes = diff_documents(old, new)
    assert (changes.edges_added, changes.edges_removed) == (
        [("big", "else", "second")],
        [("big", "else", "closed")],
    )


def test_changed_template_body(old: dict, new: dict) -> None:
    new["templates"]["reminder"]["variants"][0]["body"] = "Pay now."
    changes = diff_documents(old, new).templates_changed["reminder"]
    assert [c.path for c in changes] == ["en-GB tone 1.body"]


def test_added_template_variant(old: dict, new: dict) -> None:
    new["templates"]["reminder"]["variants"].append(
        {"locale": "de-DE", "tone": 1, "subject": "", "body": "Hallo"}
    )
    changes = diff_documents(old, new).templates_changed["reminder"]
    assert [(c.path, c.before) for c in changes] == [("de-DE tone 1", None)]


def test_added_and_removed_templates(old: dict, new: dict) -> None:
    new["templates"]["sms"] = new["templates"].pop("reminder")
    changes = diff_documents(old, new)
    assert (changes.templates_added, changes.templates_removed) == (["sms"], ["reminder"])


def test_changed_setting(old: dict, new: dict) -> None:
    new["currency"] = "USD"
    assert diff_documents(old, new).settings_changed == [Change("currency", "EUR", "USD")]


def test_node_marks_for_the_canvas(old: dict, new: dict) -> None:
    new["nodes"].append({"id": "extra", "type": "end", "label": "", "params": {}})
    _node(new, "wait_14")["params"]["days"] = 21
    assert diff_documents(old, new).node_marks() == {"extra": "added", "wait_14": "changed"}


def test_new_edge_marks_its_source_as_changed(old: dict, new: dict) -> None:
    next(e for e in new["edges"] if e["from"] == "big" and e["port"] == "else")["to"] = "second"
    marks = diff_documents(old, new).node_marks()
    assert marks == {"big": "changed", "second": "rewired"}


def test_the_letter_calendar_is_a_change_reviewers_see(old: dict, new: dict) -> None:
    new["letter_days"] = "business_days"

    assert diff_documents(old, new).settings_changed == [
        Change("letter_days", None, "business_days")
    ]
