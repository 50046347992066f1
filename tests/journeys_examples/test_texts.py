"""The example journeys' message texts: they render for any case and avoid blocked wording."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from engine import case_context, load_journey, render_message

EXAMPLES = Path(__file__).resolve().parents[2] / "journeys_examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SAMPLE_ATTRIBUTES = {"number": 42, "string": "ACME Telecom", "boolean": True}

# Patterns from the tone audit list (shared/domain/compliance.md, part b) that no example may
# use at all: the examples announce no court steps, seizures, lawyers or credit reports as
# threats, and never push for borrowing or fees.
BLOCKED = re.compile(
    r"\b(Haftbefehl|Gefängnis|Strafanzeige|Betrug\w*|StGB|Pfändung|Gerichtsvollzieher|"
    r"Amtsgericht|Rechtsanwalt|Rechtsabteilung|Mahnbescheid|Schuldnerliste|letztmalig|"
    r"24 Std|Mahnauslagen|Leihen Sie|verpflichtet, der SCHUFA|"
    r"arrest|jail|criminal|fraud|garnish\w*|seize|court|attorney|solicitor|bailiff|lawsuit|"
    r"deadbeat|borrow\w*|act now|processing fee|convenience fee|we will report)\b",
    re.IGNORECASE,
)


def load(name: str) -> dict[str, Any]:
    """An example document."""
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def sample_case(doc: dict[str, Any], amount: str, **overrides: Any) -> SimpleNamespace:
    """A case as the renderer sees it, in the journey's market."""
    values: dict[str, Any] = {
        "debtor_name": "Erika Mustermann",
        "reference": "INV-100001",
        "external_id": "INV-100001",
        "id": 7,
        "portal_link_gen": 0,
        "amount_open": Decimal(amount),
        "amount_original": Decimal("89.00").max(Decimal(amount)),
        "currency": doc["currency"],
        "locale": doc["locale"],
        "due_date": date(2026, 2, 16),
        "promise_date": date(2026, 3, 9),
        "attributes": {a["name"]: SAMPLE_ATTRIBUTES[a["type"]] for a in doc.get("attributes", [])},
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def variants(name: str) -> list[tuple[str, int]]:
    """(template key, tone) for every variant of an example."""
    doc = load(name)
    return [(k, v["tone"]) for k, t in doc["templates"].items() for v in t["variants"]]


CASES = [
    {"amount": "89.00"},
    {"amount": "12.50"},
    {"amount": "89.00", "promise_date": None, "attributes": {}},
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", CASES, ids=["typical", "small", "bare"])
def test_every_template_renders_with_the_portal_link(name: str, case: dict[str, Any]) -> None:
    doc = load(name)
    journey = load_journey(doc)
    context = case_context(
        sample_case(doc, **case), NOW, "https://pay.example.org/p", "Beispiel GmbH"
    )

    for key, tone in variants(name):
        rendered = render_message(journey, key, tone, doc["locale"], context)
        assert context["portal_url"].startswith("https://pay.example.org/p/"), key
        assert context["portal_url"] in rendered.body, key
        assert "INV-100001" not in context["portal_url"], key  # signed, never the case id
        assert "None" not in rendered.body + rendered.subject, key


@pytest.mark.parametrize("name", NAMES)
def test_no_text_uses_blocked_wording(name: str) -> None:
    doc = load(name)
    texts = [
        (key, part, v.get(part) or "")
        for key, t in doc["templates"].items()
        for v in t["variants"]
        for part in ("subject", "body", "html")
    ]

    found = [(key, part, m.group(0)) for key, part, text in texts for m in BLOCKED.finditer(text)]

    assert found == []


@pytest.mark.parametrize("name", NAMES)
def test_every_node_has_a_label_and_a_position(name: str) -> None:
    nodes = load(name)["nodes"]

    assert [n["id"] for n in nodes if not n.get("label") or "position" not in n] == []


def test_each_real_example_is_written_for_its_market() -> None:
    locales = {load(n)["key"]: load(n)["locale"] for n in NAMES}

    assert locales["de-shop-b2c"] == "de-DE"
    assert locales["us-agency-regf"] == "en-US"
    assert locales["uk-arrears-forbearance"] == "en-GB"
