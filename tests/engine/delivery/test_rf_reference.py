"""The case's RF creditor reference in messages: a template variable, and the letter's GiroCode
carries it as the structured remittance, so the bank statement names the case."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from connectors.girocode import epc_payload
from engine.delivery.config import Company
from engine.delivery.outgoing import connector_message
from engine.delivery.rendering import case_context
from engine.journey.templating import Rendered, template_problems
from engine.payments.references import rf_reference

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _case(**overrides: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "id": 42,
        "portal_link_gen": 0,
        "locale": "de_DE",
        "amount_original": Decimal("89.00"),
        "amount_open": Decimal("89.00"),
        "debtor_name": "Erika Mustermann",
        "reference": "Rechnung 4711",
        "external_id": "INV-4711",
        "currency": "EUR",
        "due_date": date(2026, 3, 1),
        "promise_date": None,
        "attributes": {},
        "street": "Hauptstr. 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_templates_may_use_rf_reference_and_get_the_cases() -> None:
    context = case_context(_case(), NOW, "https://p.example/p", "X")

    assert template_problems("Verwendungszweck: {{ rf_reference }}") == []
    assert context["rf_reference"] == rf_reference(42) == "RF" + rf_reference(42)[2:4] + "MW42"


def test_a_sample_case_gets_a_reference_that_names_no_case() -> None:
    context = case_context(_case(id=None), NOW, "https://p.example/p", "X")

    assert context["rf_reference"] == rf_reference(0)


def test_the_letters_girocode_carries_the_rf_reference_structured() -> None:
    letter = connector_message(
        "letter", "k1", _case(), Rendered("Mahnung", "Bitte zahlen.", None), Company(), "u", NOW
    )

    assert letter.giro is not None
    assert letter.giro.reference == rf_reference(42)
    lines = epc_payload(letter.giro).split("\n")
    assert (lines[9], lines[10:]) == (rf_reference(42), [])  # structured field, no free text


def test_no_girocode_for_a_case_in_another_currency() -> None:
    letter = connector_message(
        "letter",
        "k2",
        _case(currency="CHF"),
        Rendered("Mahnung", "Bitte zahlen.", None),
        Company(),
        "u",
        NOW,
    )

    assert letter.giro is None
