"""Interest by the day: per rate period, ACT/365 in leap years too, rounded half up once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from engine.money import interest
from engine.money.rates import RatePeriod


def test_a_span_across_a_rate_change_earns_each_period_at_its_rate() -> None:
    # EUR 1,000.00 from 1 Dec 2024 to 1 Feb 2025, consumer: 31 days at 8.37 %, 31 at 7.27 %.
    found = interest.statutory_interest(
        100_000, "DE", "consumer", date(2024, 12, 1), date(2025, 2, 1)
    )

    december = Decimal(100_000) * Decimal("8.37") * 31 / 36_500  # 710.876... cents
    january = Decimal(100_000) * Decimal("7.27") * 31 / 36_500  # 617.452... cents
    assert found == 1328 == interest.rounded(december + january)


def test_a_leap_year_counts_366_days_each_at_a_365th_of_the_rate() -> None:
    year = interest.fixed_interest(100_000, Decimal("10"), date(2024, 1, 1), date(2025, 1, 1))
    plain = interest.fixed_interest(100_000, Decimal("10"), date(2025, 1, 1), date(2026, 1, 1))

    assert plain == 10_000  # 365 days: exactly 10 %
    assert year == 10_027  # 366 / 365 of 10 %: 10,027.39... cents
    feb_29 = interest.fixed_interest(100_000, Decimal("10"), date(2024, 2, 29), date(2024, 3, 1))
    assert feb_29 == 27  # the leap day earns like any day


def test_rounding_is_half_up_on_the_sum_not_per_period() -> None:
    assert interest.rounded(Decimal("0.5")) == 1
    assert interest.rounded(Decimal("1.4999")) == 1
    assert interest.rounded(Decimal("2.5")) == 3  # not banker's rounding
    periods = [
        RatePeriod(date(2025, 1, 1), date(2025, 1, 2), Decimal("0.73")),
        RatePeriod(date(2025, 1, 2), date(2025, 1, 3), Decimal("0.73")),
    ]
    # Each day alone is 0.2 cents (rounds to 0); together 0.4, also 0; three would not matter.
    assert interest.exact(10_000, periods) == Decimal("0.4")
    assert interest.rounded(interest.exact(10_000, periods)) == 0


def test_no_days_or_an_empty_span_earn_nothing() -> None:
    assert interest.fixed_interest(100_000, Decimal("8"), date(2025, 3, 1), date(2025, 3, 1)) == 0
    assert (
        interest.statutory_interest(100_000, "DE", "consumer", date(2025, 3, 2), date(2025, 3, 1))
        == 0
    )
