"""What a case owes: fees and interest booked, payments allocated, when a payment closes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from engine.core.state import CaseState
from engine.intake import event_effects
from engine.journey.document import load_journey
from engine.money import balance
from tests.factories import journey_doc


def state(**kw: Any) -> CaseState:
    values: dict[str, Any] = {
        "id": 1,
        "external_id": "X",
        "version_id": 1,
        "node_id": "n",
        "status": "active",
        "amount_open": Decimal("1000.00"),
        "amount_original": Decimal("1000.00"),
        "currency": "EUR",
        "due_date": date(2025, 6, 30),
        "debtor_type": "consumer",
    }
    return CaseState(**(values | kw))


def journey(**settings: Any) -> Any:
    return load_journey(journey_doc(jurisdiction="DE", settings=settings))


def test_costs_then_interest_then_principal_by_default() -> None:
    cs = state()
    event_effects.apply(cs, "fee_charged", {"amount": "5.00", "currency": "EUR"})
    event_effects.apply(cs, "interest_booked", {"amount": "3.00", "currency": "EUR"})

    note = event_effects.apply(cs, "payment_received", {"amount": "6.00", "currency": "EUR"})

    assert note["to_fees"] == "5.00" and note["to_interest"] == "1.00"
    assert "to_principal" not in note
    assert cs.amount_open == Decimal("1000.00")
    assert cs.charges["fees"] == "0.00" and cs.charges["interest"] == "2.00"
    assert cs.charges["fees_charged"] == "5.00" and cs.charges["interest_charged"] == "3.00"


def test_a_journey_may_allocate_to_the_principal_first() -> None:
    cs = state()
    event_effects.apply(cs, "fee_charged", {"amount": "5.00", "currency": "EUR"})

    event_effects.apply(
        cs,
        "payment_received",
        {"amount": "1002.00", "currency": "EUR"},
        None,
        "principal_costs_interest",
    )

    assert cs.amount_open == Decimal("0.00")
    assert balance.amount(cs.charges, "fees") == Decimal("3.00")


def test_an_overpayment_is_noted_after_everything_is_paid() -> None:
    cs = state(amount_open=Decimal("10.00"))
    event_effects.apply(cs, "fee_charged", {"amount": "2.50", "currency": "EUR"})

    note = event_effects.apply(cs, "payment_received", {"amount": "20.00", "currency": "EUR"})

    assert note["overpaid"] == "7.50"
    assert balance.booked_total(cs) == Decimal("0.00")


def test_a_case_without_charges_notes_a_payment_as_before() -> None:
    cs = state()

    note = event_effects.apply(cs, "payment_received", {"amount": "100.00", "currency": "EUR"})

    assert note == {"amount": "100.00", "open_before": "1000.00", "open_after": "900.00"}
    assert cs.charges == {}


@pytest.mark.parametrize(("close_when", "left"), [("all_paid", "2.50"), ("principal_paid", "0")])
def test_paying_the_principal_alone_leaves_the_fee_open_or_closes(
    close_when: str, left: str
) -> None:
    cs = state(amount_open=Decimal("0.00"), charges={"fees": "2.50", "fees_charged": "2.50"})

    assert balance.left_to_close(cs, journey(balance={"close_when": close_when})) == Decimal(left)


def test_statutory_interest_accrues_from_the_day_after_the_due_date() -> None:
    cs = state()  # due 30 June 2025: interest from 1 July at 1.27 + 5 = 6.27 %
    j = journey(interest={"mode": "statutory"})

    owed = balance.owed(cs, j, date(2025, 7, 31))  # 30 days

    assert owed.interest == Decimal("5.15")  # 100000 * 6.27 * 30 / 36500 = 515.3 cents
    assert owed.rate == Decimal("6.27")
    assert owed.total == Decimal("1005.15")


def test_interest_from_default_starts_later() -> None:
    cs = state()
    j = journey(interest={"mode": "statutory", "from": "default", "default_after_days": 10})

    assert balance.owed(cs, j, date(2025, 7, 11)).interest == Decimal("0.00")
    assert balance.owed(cs, j, date(2025, 7, 12)).interest == Decimal("0.17")  # one day: 17.18c


def test_booked_interest_is_not_counted_twice() -> None:
    cs = state()
    j = journey(interest={"mode": "fixed", "rate": "8"})
    payload = balance.interest_payload(cs, j, date(2025, 7, 31))
    assert payload is not None
    assert payload["from"] == "2025-07-01" and payload["to"] == "2025-07-31"
    assert payload["rate"] == "8" and payload["amount"] == "6.58"  # 100000 * 8 * 30 / 36500

    event_effects.apply(cs, "interest_booked", payload)

    assert balance.interest_payload(cs, j, date(2025, 7, 31)) is None
    assert balance.owed(cs, j, date(2025, 8, 1)).interest == Decimal("6.80")  # + one day 0.22


def test_no_interest_when_off_or_when_nothing_is_open() -> None:
    assert balance.owed(state(), journey(), date(2026, 1, 1)).interest == Decimal("0.00")
    paid = state(amount_open=Decimal("0.00"))
    assert (
        balance.owed(paid, journey(interest={"mode": "statutory"}), date(2026, 1, 1)).interest == 0
    )
