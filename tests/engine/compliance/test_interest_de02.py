"""DE-02: a German text that claims interest states the rate the data gives; a journey that
charges interest says so in a demand."""

from __future__ import annotations

from typing import Any

from engine.authoring.validation import validate_document
from engine.compliance.legal import interest_findings
from engine.journey.document import load_journey
from tests.factories import edge, journey_doc, node, template


def doc(
    body: str,
    interest: dict[str, Any] | None = None,
    debtors: list[str] | None = None,
    purpose: str = "demand",
) -> dict[str, Any]:
    start = node("start", "start")
    if debtors:
        start["params"]["filter"] = [{"field": "debtor_type", "op": "in", "value": debtors}]
    nodes = [
        start,
        node("demand", "send", channel="email", template="demand", tone=2, purpose=purpose),
        node("wait", "wait", mode="duration", days=3),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "demand"), edge("demand", "wait"), edge("wait", "done")]
    fields: dict[str, Any] = {"jurisdiction": "DE", "locale": "de-DE"}
    if interest is not None:
        fields["settings"] = {"interest": interest}
    return journey_doc(nodes, edges, {"demand": template(locale="de-DE", body=body)}, **fields)


def kinds(document: dict[str, Any]) -> list[str]:
    return [f.kind for f in interest_findings(load_journey(document))]


STATUTORY = {"mode": "statutory"}


def test_a_text_that_prints_the_rate_from_the_data_keeps_it() -> None:
    body = "Zzgl. Verzugszinsen von {{ format_money(interest) }} ({{ interest_rate_words }})."

    assert kinds(doc(body, STATUTORY)) == []
    _, problems = validate_document(doc(body, STATUTORY))
    assert [p for p in problems if p.code == "DE-02"] == []


def test_the_statutory_points_in_words_keep_it_for_consumers() -> None:
    body = "Wir berechnen Verzugszinsen von 5 Prozentpunkten über dem Basiszinssatz."

    assert kinds(doc(body, STATUTORY, ["consumer"])) == []


def test_the_business_points_for_consumers_break_it() -> None:
    body = "Wir berechnen Verzugszinsen von 9 Prozentpunkten über dem Basiszinssatz."

    assert kinds(doc(body, STATUTORY, ["consumer"])) == ["wrong_points"]
    _, problems = validate_document(doc(body, STATUTORY, ["consumer"]))
    found = [p for p in problems if p.code == "DE-02"]
    assert [(p.node, p.field, p.blocks) for p in found] == [
        ("demand", "templates.demand.de-DE.tone1", True)
    ]
    assert "at 9 percentage points above the base rate, but the law gives 5" in found[0].message
    assert "das Gesetz gibt für die Schuldner dieser Strecke aber 5" in found[0].text("de")


def test_one_rate_for_consumers_and_businesses_alike_breaks_it() -> None:
    body = "Verzugszinsen: 5 Prozentpunkte über dem Basiszinssatz."

    assert kinds(doc(body, STATUTORY)) == ["wrong_points"]  # businesses owe 9


def test_interest_claimed_without_a_rate_is_a_high_finding() -> None:
    body = "Außerdem berechnen wir Ihnen Zinsen."

    _, problems = validate_document(doc(body, STATUTORY))

    found = [p for p in problems if p.code == "DE-02"]
    assert [(p.grade, p.blocks) for p in found] == [("HIGH", False)]
    assert "claims interest without its rate" in found[0].message


def test_a_contract_rate_must_be_the_one_stated() -> None:
    fixed = {"mode": "fixed", "rate": "8.5"}

    assert kinds(doc("Zinsen: 8,5 % pro Jahr.", fixed)) == []
    assert kinds(doc("Zinsen: 12 % pro Jahr.", fixed)) == ["wrong_rate"]
    assert kinds(doc("Zinsen fallen an.", fixed)) == ["no_rate"]


def test_charging_interest_that_no_demand_states_breaks_it() -> None:
    silent = doc("Bitte zahlen Sie {{ format_money(amount_open) }}.", STATUTORY)

    assert kinds(silent) == ["not_stated"]
    _, problems = validate_document(silent)
    found = [p for p in problems if p.code == "DE-02"]
    assert [(p.node, p.field, p.grade) for p in found] == [(None, "settings.interest", "HIGH")]


def test_no_interest_and_no_claim_is_no_finding_and_other_countries_are_not_read() -> None:
    assert kinds(doc("Bitte zahlen Sie {{ format_money(amount_open) }}.")) == []
    uk = doc("Wir berechnen Zinsen.", STATUTORY)
    uk["jurisdiction"] = "UK"
    assert kinds(uk) == []


def test_the_base_rate_named_alone_is_no_claim() -> None:
    assert kinds(doc("Der Basiszinssatz beträgt derzeit 1,27 %.")) == []
