"""Schedule arithmetic: amounts sum exactly, limits name their field, dates follow the interval."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.payments.plans import (
    PlanLimits,
    PlanRefused,
    add_months,
    due_dates,
    schedule,
    split_amounts,
)

LIMITS = PlanLimits(allowed=True, max_instalments=6, min_instalment_minor=2000)
TODAY = date(2026, 3, 2)


@given(st.integers(min_value=1, max_value=10**12), st.integers(min_value=1, max_value=24))
def test_amounts_sum_exactly_and_the_first_carries_the_remainder(total: int, count: int) -> None:
    parts = split_amounts(total, count)
    assert sum(parts) == total and len(parts) == count
    assert all(p == parts[-1] for p in parts[1:])
    assert 0 <= parts[0] - parts[-1] < count


def test_a_balance_that_does_not_divide() -> None:
    plan = schedule(LIMITS, 25001, 3, date(2026, 3, 10), TODAY)
    assert [p.amount_minor for p in plan] == [8335, 8333, 8333]
    assert [p.seq for p in plan] == [1, 2, 3]
    assert [p.due_date for p in plan] == [date(2026, 3, 10), date(2026, 4, 10), date(2026, 5, 10)]


def test_monthly_dates_keep_the_day_or_take_the_month_end() -> None:
    assert due_dates(date(2026, 1, 31), 4, "monthly") == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


def test_every_two_weeks() -> None:
    assert due_dates(date(2026, 3, 2), 3, "biweekly") == [
        date(2026, 3, 2),
        date(2026, 3, 16),
        date(2026, 3, 30),
    ]


@pytest.mark.parametrize(
    ("count", "first", "field"),
    [
        (1, date(2026, 3, 2), "instalments"),
        (7, date(2026, 3, 2), "instalments"),
        (3, date(2026, 3, 1), "first_date"),  # yesterday
        (3, date(2026, 3, 17), "first_date"),  # 15 days on, the limit is 14
    ],
)
def test_a_plan_outside_the_limits_names_the_field(count: int, first: date, field: str) -> None:
    with pytest.raises(PlanRefused) as refused:
        schedule(LIMITS, 25000, count, first, TODAY)
    assert refused.value.field == field


def test_the_minimum_instalment_caps_the_count() -> None:
    assert LIMITS.most_instalments(5000) == 2
    assert len(schedule(LIMITS, 5000, 2, TODAY, TODAY)) == 2
    with pytest.raises(PlanRefused) as refused:
        schedule(LIMITS, 5000, 3, TODAY, TODAY)  # 16.66 each, below 20.00
    assert "between 2 and 2" in str(refused.value)
    with pytest.raises(PlanRefused) as small:
        schedule(LIMITS, 3999, 2, TODAY, TODAY)
    assert small.value.field == "plan"


def test_a_journey_without_plans_allows_none() -> None:
    assert PlanLimits.of({"settings": {"payments": {}}}).allowed is False
    with pytest.raises(PlanRefused) as refused:
        schedule(PlanLimits(), 25000, 2, TODAY, TODAY)
    assert refused.value.field == "plan"
    chosen = PlanLimits.of({"settings": {"plans": {"allowed": True, "interval": "biweekly"}}})
    assert (chosen.allowed, chosen.interval, chosen.max_instalments) == (True, "biweekly", 6)


def test_the_journeys_plan_settings_are_validated_naming_the_field() -> None:
    from engine import validate_document
    from tests.engine.payments.conftest import plan_doc

    doc = plan_doc(interval="weekly", max_instalments=30, min_instalment_minor=0)
    _, problems = validate_document(doc)
    fields = {p.field for p in problems if p.severity == "error"}
    assert fields == {
        "settings.plans.interval",
        "settings.plans.max_instalments",
        "settings.plans.min_instalment_minor",
    }
    assert [p for p in validate_document(plan_doc())[1] if p.severity == "error"] == []
