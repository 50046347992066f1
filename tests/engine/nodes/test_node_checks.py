"""Checks beyond the params schemas: no wait counts back, and a send step says which variant
goes out when its tone has none of its own (issue 16, point 9)."""

from __future__ import annotations

import pytest

from engine.authoring.validation import validate_document
from tests.factories import edge, journey_doc, node


def chain(middle: dict) -> dict:
    nodes = [node("start", "start"), middle, node("done", "end", outcome="closed")]
    edges = [edge("start", middle["id"]), edge(middle["id"], "done")]
    return journey_doc(nodes, edges)


@pytest.mark.parametrize("mode", ["duration", "business_days"])
def test_a_negative_wait_is_refused_naming_node_and_field(mode: str) -> None:
    _journey, problems = validate_document(chain(node("pause", "wait", mode=mode, days=-5)))
    (problem,) = [p for p in problems if p.field == "params.days"]
    assert problem.blocks and problem.node == "pause"
    assert problem.line("en").startswith("node 'pause', field 'params.days': A wait of -5 days")
    assert "vorbei, bevor sie beginnt" in problem.text("de")


def test_due_date_minus_days_stays_allowed() -> None:
    _journey, problems = validate_document(chain(node("d5", "wait", mode="due_date", days=-5)))
    assert not [p for p in problems if p.field == "params.days"]


def test_a_tone_without_its_own_variant_is_a_warning_naming_the_one_sent() -> None:
    step = node("remind", "send", channel="email", template="reminder", tone=3)
    _journey, problems = validate_document(chain(step))
    (problem,) = [p for p in problems if p.field == "params.tone"]
    assert not problem.blocks  # shown, never blocking: the nearest variant is a fine answer
    assert problem.text("en") == (
        "Template 'reminder' has no variant of tone 3; tone 1 (en-GB) will be sent."
    )
    assert "Tonlage 3" in problem.text("de")


def test_a_tone_with_its_own_variant_says_nothing() -> None:
    step = node("remind", "send", channel="email", template="reminder", tone=1)
    _journey, problems = validate_document(chain(step))
    assert not [p for p in problems if p.field == "params.tone"]
