"""What is owed in a message: the template variables and the rate in words, EN and DE."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from engine.delivery.rendering import case_context, render_message
from engine.journey.document import load_journey
from engine.journey.templating import template_problems
from engine.money.statement import owed_values, rate_words
from tests.factories import journey_doc, template

NOW = datetime(2025, 7, 31, 9, tzinfo=UTC)
BODY = (
    "Offen {{ format_money(principal) }} + Gebühren {{ format_money(fees) }} + Zinsen "
    "{{ format_money(interest) }} ({{ interest_rate_words }}) = {{ format_money(total_due) }}"
)


def case(**kw: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "id": 7,
        "external_id": "INV-7",
        "portal_link_gen": 1,
        "debtor_name": "Erika",
        "reference": "INV-7",
        "amount_open": Decimal("1000.00"),
        "amount_original": Decimal("1000.00"),
        "currency": "EUR",
        "due_date": date(2025, 6, 30),
        "locale": "de-DE",
        "promise_date": None,
        "attributes": {},
        "debtor_type": "consumer",
        "country": "DE",
        "charges": {"fees": "2.50", "fees_charged": "2.50"},
    }
    values.update(kw)
    return SimpleNamespace(**values)


def journey(**interest: object):
    settings = {"interest": interest} if interest else None
    doc = journey_doc(
        templates={"reminder": template(locale="de-DE", body=BODY)},
        jurisdiction="DE",
        settings=settings,
    )
    return load_journey(doc)


def test_the_variables_are_known_to_the_template_checker() -> None:
    assert template_problems(BODY + "{{ interest_rate }}{{ interest_from }}") == []


def test_a_german_demand_shows_principal_fees_interest_rate_and_total() -> None:
    j = journey(mode="statutory")
    context = case_context(case(), NOW, "https://p.example/p", "X", journey=j)

    rendered = render_message(j, "reminder", 1, "de-DE", context)

    # 30 days on 1,000.00 at 6.27 %: 5.15 interest
    assert rendered.body == (
        "Offen 1.000,00\xa0€ + Gebühren 2,50\xa0€ + Zinsen 5,15\xa0€ (6,27 % pro Jahr "
        "(5 Prozentpunkte über dem Basiszinssatz (§ 247 BGB) von 1,27 %, § 288 Abs. 1 BGB)) "
        "= 1.007,65\xa0€"
    )


def test_the_rate_in_english_and_for_a_contract_rate() -> None:
    statutory = rate_words(
        case(debtor_type="business"), journey(mode="statutory"), date(2025, 7, 31), "en"
    )
    fixed = rate_words(case(), journey(mode="fixed", rate="8.5"), date(2025, 7, 31), "de")

    assert statutory == (
        "10.27 % a year (9 percentage points above the base rate (§ 247 BGB) of 1.27 %, "
        "§ 288 Abs. 2 BGB)"
    )
    assert fixed == "8,5 % pro Jahr (der vertraglich vereinbarte Zinssatz)"


def test_without_interest_the_words_are_empty_never_none() -> None:
    values = owed_values(case(), journey(), date(2025, 7, 31), "de")

    assert values["interest_rate_words"] == "" and values["interest_rate"] == ""
    assert values["interest"] == Decimal("0.00")
    assert values["total_due"] == Decimal("1002.50")
    plain = case_context(case(charges=None), NOW, "https://p.example/p", "X")
    assert plain["total_due"] == Decimal("1000.00") and plain["fees"] == Decimal("0.00")
