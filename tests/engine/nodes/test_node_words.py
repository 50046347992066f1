"""What node types say, in English and German: rule phrases, port labels and checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.validation import validate_document
from engine.journey.document import load_journey
from engine.nodes import NODE_TYPES
from engine.nodes.wait import Wait
from tests.factories import edge, journey_doc, node, template

EXAMPLES = Path(__file__).resolve().parents[3] / "journeys_examples"


@pytest.mark.parametrize(
    ("params", "en", "de"),
    [
        (
            {"mode": "duration", "days": 14},
            "14 days have passed",
            "die Wartezeit von 14 Tagen abgelaufen ist",
        ),
        (
            {"mode": "duration", "days": 1, "hours": 2},
            "1 day 2 hours have passed",
            "die Wartezeit von 1 Tag und 2 Stunden abgelaufen ist",
        ),
        (
            {"mode": "business_days", "days": 3, "at_time": "09:00"},
            "3 business days have passed at 09:00",
            "die Wartezeit von 3 Werktagen abgelaufen ist und es 09:00 Uhr ist",
        ),
        (
            {"mode": "business_days", "days": 1},
            "1 business day has passed",
            "die Wartezeit von 1 Werktag abgelaufen ist",
        ),
        (
            {"mode": "duration", "days": 1},
            "1 day has passed",
            "die Wartezeit von 1 Tag abgelaufen ist",
        ),
        (
            {"mode": "due_date", "days": -5},
            "it is 5 days before the due date (D-5)",
            "es 5 Tage vor Fälligkeit (T-5) ist",
        ),
        (
            {"mode": "due_date", "days": 1, "at_time": "09:00"},
            "it is 1 day after the due date (D+1) at 09:00",
            "es 1 Tag nach Fälligkeit (T+1) ist und es 09:00 Uhr ist",
        ),
        (
            {"mode": "due_date", "days": 0},
            "it is the due date (D+0)",
            "der Fälligkeitstag (T+0) erreicht ist",
        ),
    ],
)
def test_a_wait_reads_in_both_languages(params: dict[str, Any], en: str, de: str) -> None:
    assert (Wait.phrase(params), Wait.phrase(params, "de")) == (en, de)


def ports(type_name: str, lang: str, **params: Any) -> list[str]:
    """A node type's port labels in a language."""
    return [p.text(lang) for p in NODE_TYPES[type_name].ports(params)]


def test_split_ports_read_as_arms_and_holdout_in_german() -> None:
    arms = [{"name": "A", "weight": 45}, {"name": "B", "weight": 45}]

    assert ports("split", "de", experiment="x", arms=arms, holdout=10) == [
        "Zweig A",
        "Zweig B",
        "Kontrollgruppe",
    ]


def test_wait_event_ports_read_as_events_in_german() -> None:
    assert ports("wait_event", "de", events=["payment_received"], timeout_days=7) == [
        "eine Zahlung eingeht",
        "Frist abgelaufen",
    ]


def test_a_managers_own_branch_label_reads_the_same_in_german() -> None:
    branches = [{"port": "big", "label": "Großer Betrag", "when": []}]

    assert ports("condition", "de", branches=branches) == ["Großer Betrag", "Sonst"]


def test_the_english_port_label_is_unchanged() -> None:
    assert [p.label for p in NODE_TYPES["promise"].ports({})] == ["Kept", "Broken", "No promise"]


def check_de(doc: dict[str, Any]) -> list[str]:
    """The German problems validation finds."""
    return [p.text("de") for p in validate_document(doc)[1]]


def test_a_template_for_another_channel_reads_in_german() -> None:
    doc = journey_doc(templates={"reminder": template(channel="letter")})

    assert check_de(doc) == [
        "Die Vorlage 'reminder' ist für den Kanal Brief, dieser Schritt sendet aber per E-Mail."
    ]


def test_a_fallback_template_without_a_channel_reads_in_german() -> None:
    doc = journey_doc()
    doc["nodes"][1]["params"]["fallback_template"] = "reminder"

    assert check_de(doc) == ["Eine Ersatzvorlage braucht einen Ersatzkanal."]


def test_split_weights_read_with_a_german_decimal_comma() -> None:
    arms = [{"name": "A", "weight": 50}, {"name": "B", "weight": 49.5}]
    doc = journey_doc(
        nodes=[
            node("start", "start"),
            node("ab", "split", experiment="x", arms=arms),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "ab"), edge("ab", "done", "A"), edge("ab", "done", "B")],
        templates={},
    )

    assert check_de(doc) == ["Die Anteile ergeben zusammen 99,5 %, sie müssen 100 % ergeben."]


def test_condition_branches_sharing_a_port_read_in_german() -> None:
    when = [{"field": "amount_open", "op": "gt", "value": 1}]
    branches = [{"port": "big", "when": when}, {"port": "big", "when": when}]
    doc = journey_doc(
        nodes=[
            node("start", "start"),
            node("c", "condition", branches=branches),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "c"), edge("c", "done", "big"), edge("c", "done", "else")],
        templates={},
    )

    assert "Zwei Zweige haben denselben Ausgangsnamen 'big'." in check_de(doc)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_rule_phrase_of_the_examples_has_german_words(path: Path) -> None:
    journey = load_journey(json.loads(path.read_text(encoding="utf-8")))
    specs = [s for n in journey.nodes for s in NODE_TYPES[n.type].compile(n, journey)]

    assert specs
    for spec in specs:
        assert spec.words is not None
        assert spec.words.text("en") == spec.phrase
        assert spec.words.text("de") != spec.phrase
