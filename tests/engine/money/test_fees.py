"""Fee steps against the law: refusals name the step and field, caps warn, tables by debtor."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from engine.authoring.validation import validate_document
from engine.nodes.base import Problem
from tests.factories import edge, journey_doc, node, template


def fee_journey(
    fee: dict[str, Any], debtors: list[str] | None = None, first: bool = False, **fields: Any
) -> dict[str, Any]:
    """start -> remind -> fee -> demand -> wait -> end; `first`: the fee before the reminder."""
    start = node("start", "start")
    if debtors is not None:
        start["params"]["filter"] = [{"field": "debtor_type", "op": "in", "value": debtors}]
    nodes = [
        start,
        node("remind", "send", channel="email", template="reminder", tone=1),
        node("fee", "fee", **fee),
        node("demand", "send", channel="email", template="reminder", tone=2, purpose="demand"),
        node("wait", "wait", mode="duration", days=3),
        node("done", "end", outcome="closed"),
    ]
    order = ["start", "fee", "remind", "demand"] if first else ["start", "remind", "fee", "demand"]
    edges = [edge(a, b) for a, b in pairwise(order)]
    edges += [edge("demand", "wait"), edge("wait", "done")]
    templates = {"reminder": template(locale="de-DE", body="Bitte zahlen Sie {{ total_due }}.")}
    fields.setdefault("jurisdiction", "DE")
    return journey_doc(nodes, edges, templates, **fields)


def fee_problems(doc: dict[str, Any]) -> list[Problem]:
    _, problems = validate_document(doc)
    return [p for p in problems if p.node == "fee" or "fee" in (p.field or "")]


def test_the_flat_fee_is_refused_where_consumers_can_enter() -> None:
    problems = fee_problems(fee_journey({"table": "flat_fee"}))

    assert [(p.node, p.field, p.code, p.blocks) for p in problems] == [
        ("fee", "params.table", "DE-03", True)
    ]
    assert "§ 288 Abs. 5 BGB" in problems[0].message
    assert "businesses" in problems[0].message and "consumers" in problems[0].message
    assert "nur von Unternehmen" in problems[0].text("de")


def test_the_flat_fee_passes_for_businesses_only() -> None:
    assert fee_problems(fee_journey({"table": "flat_fee"}, debtors=["business"])) == []


def test_an_unknown_table_names_the_known_ones() -> None:
    problems = fee_problems(fee_journey({"table": "postage"}))

    assert [(p.field, p.message) for p in problems] == [
        ("params.table", "The jurisdiction DE has no fee table 'postage' (known: flat_fee).")
    ]


def test_both_or_neither_amount_and_table_are_refused() -> None:
    both = fee_problems(fee_journey({"amount": "1.00", "table": "flat_fee"}))
    neither = fee_problems(fee_journey({"name": "x"}))

    assert [p.field for p in both] == [p.field for p in neither] == ["params.amount"]
    assert "not both and not neither" in both[0].message


def test_a_negative_or_huge_amount_is_refused_by_the_schema() -> None:
    assert [p.field for p in fee_problems(fee_journey({"amount": "-1"}))] == ["params.amount"]
    assert [p.field for p in fee_problems(fee_journey({"amount": "1000000"}))] == ["params.amount"]


def test_a_fee_before_the_first_reminder_is_refused_in_germany() -> None:
    problems = fee_problems(fee_journey({"amount": "1.00"}, first=True))

    assert [(p.node, p.code, p.blocks) for p in problems] == [("fee", "DE-04", True)]
    assert "puts the debtor in default" in problems[0].message


def test_a_fixed_fee_above_the_cap_is_a_high_warning() -> None:
    problems = fee_problems(fee_journey({"amount": "5.00"}))

    assert [(p.field, p.code, p.grade, p.blocks) for p in problems] == [
        ("params.amount", "DE-04", "HIGH", False)
    ]
    assert "5.00 EUR is above 2.50 EUR" in problems[0].message
    assert "5,00\xa0€ liegt über 2,50\xa0€" in problems[0].text("de")
    assert fee_problems(fee_journey({"amount": "2.50"})) == []


def test_a_us_fee_needs_the_agreement_to_allow_it() -> None:
    doc = fee_journey({"amount": "5.00"}, jurisdiction="US", currency="USD")

    problems = fee_problems(doc)

    assert [(p.code, p.blocks) for p in problems] == [("US-11", False)]


def test_statutory_interest_where_the_law_has_none_is_refused() -> None:
    us = fee_journey(
        {"amount": "1.00"}, jurisdiction="US", settings={"interest": {"mode": "statutory"}}
    )
    uk = fee_journey(
        {"amount": "1.00"}, jurisdiction="UK", settings={"interest": {"mode": "statutory"}}
    )
    fixed = fee_journey({"amount": "1.00"}, settings={"interest": {"mode": "fixed"}})

    assert [p.field for p in validate_document(us)[1] if p.blocks] == ["settings.interest.mode"]
    uk_problems = [p for p in validate_document(uk)[1] if p.blocks]
    assert [p.field for p in uk_problems] == ["settings.interest.mode"]
    assert "consumer" in uk_problems[0].message
    assert [p.field for p in validate_document(fixed)[1] if p.blocks] == ["settings.interest.rate"]


def test_a_bad_interest_setting_is_named_by_the_schema() -> None:
    doc = fee_journey({"amount": "1.00"}, settings={"interest": {"mode": "monthly", "rate": "x"}})

    _, problems = validate_document(doc)

    assert {p.field for p in problems} == {"settings.interest.mode", "settings.interest.rate"}


def test_a_broken_rates_file_is_a_problem_not_a_crash(monkeypatch: Any) -> None:
    from engine.money import rates

    def broken() -> None:
        raise rates.RatesError("rates.toml: [DE], base_rates[3], field 'rate': 'x' is not a number")

    monkeypatch.setattr(rates, "rates", broken)

    _, found = validate_document(fee_journey({"table": "flat_fee"}, debtors=["business"]))

    problems = [p for p in found if p.blocks]
    assert [(p.node, p.field) for p in problems] == [(None, None)]
    assert problems[0].message == (
        "The rate data cannot be used: rates.toml: [DE], base_rates[3], field 'rate': "
        "'x' is not a number"
    )
