"""Case fields: one table says what a manager reads and what the runtime posts to the rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from engine.core.state import CaseState
from engine.journey.fields import BUILTIN_FIELDS, CASE_FIELDS, field_label, field_type
from engine.run.runtime import field_value

NOW = datetime(2026, 3, 16, 9, 0, tzinfo=UTC)


def state() -> CaseState:
    return CaseState(
        id=1,
        external_id="INV-1",
        version_id=1,
        node_id="start",
        status="active",
        amount_open=Decimal("60.00"),
        amount_original=Decimal("100.00"),
        currency="EUR",
        due_date=date(2026, 3, 2),
        country="DE",
        locale="de-DE",
        email="erika@example.org",
        address={"street": "Hauptstr. 1", "postcode": "10115", "city": "Berlin"},
        messages_sent=2,
        payments_count=1,
        promise_date=date(2026, 3, 20),
        promise_amount=Decimal("60.00"),
        promise_baseline=Decimal("60.00"),
        payment_history={
            "last_paid_on": "2026-03-09",
            "last_failure_reason": "insufficient_funds",
            "failed_payments": 2,
        },
    )


def test_every_field_reads_its_value_from_a_case_state() -> None:
    values = {name: field_value(state(), None, name, NOW) for name in CASE_FIELDS}  # type: ignore[arg-type]

    assert values == {
        "amount_open": 60.0,
        "total_due": 60.0,  # no fees or interest booked: the open amount
        "amount_original": 100.0,
        "amount_paid": 40.0,
        "days_overdue": 14,
        "country": "DE",
        "currency": "EUR",
        "locale": "de-DE",
        "debtor_type": "consumer",
        "has_email": True,
        "has_phone": False,
        "has_address": True,
        "messages_sent": 2,
        "payments_count": 1,
        "days_since_last_payment": 7,
        "failed_payments": 2,
        "last_failure_reason": "insufficient_funds",
        "has_promise": True,
        "promise_kept": False,
    }


def test_the_total_due_adds_booked_fees_and_interest() -> None:
    cs = state()
    cs.charges = {"fees": "2.50", "interest": "1.25", "interest_to": "2026-03-01"}

    assert field_value(cs, None, "total_due", NOW) == 63.75  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(BUILTIN_FIELDS))
def test_a_field_a_manager_may_name_has_a_type_and_words(name: str) -> None:
    assert field_type(name, {}) == CASE_FIELDS[name].type
    assert field_label(name, "en") != name and field_label(name, "de") != name


@pytest.mark.parametrize("name", ["has_promise", "promise_kept"])
def test_the_promise_nodes_own_fields_are_read_but_not_offered_to_conditions(name: str) -> None:
    assert name in CASE_FIELDS and name not in BUILTIN_FIELDS
    assert field_type(name, {}) is None


def test_a_counter_is_a_number_only_where_a_count_step_keeps_it() -> None:
    cs = state()
    cs.counters = {"attempts": 3}

    assert field_type("counters.attempts", {}, frozenset({"attempts"})) == "number"
    assert field_type("counters.attempts", {}) is None
    assert field_value(cs, None, "counters.attempts", NOW) == 3  # type: ignore[arg-type]
    assert field_value(cs, None, "counters.other", NOW) == 0  # type: ignore[arg-type]
    assert field_label("counters.attempts", "de") == "der Zähler 'attempts'"
