"""Interest by the day: simple interest on the open principal, per rate period, in minor units.

Each day of [start, end) earns principal x rate / 100 / year_days (ACT/365: the days elapsed,
each year 365 days, a leap year's 29 February too). A span across a rate change is cut into
periods, each at its own rate. The exact sum is rounded once, half up, to whole minor units
(cents) when it is booked: one booking's rounding never exceeds half a cent.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from engine.money import rates
from engine.money.rates import RatePeriod


def exact(principal_minor: int, periods: list[RatePeriod], year_days: int = 365) -> Decimal:
    """The unrounded interest in minor units of `principal_minor` over the periods."""
    total = Decimal(0)
    for period in periods:
        total += Decimal(principal_minor) * period.rate * period.days / (100 * year_days)
    return max(total, Decimal(0))


def rounded(amount: Decimal) -> int:
    """Whole minor units, half up (documented rounding of every booking)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def statutory_interest(
    principal_minor: int, code: str, debtor_type: str, start: date, end: date
) -> int:
    """Statutory default interest in minor units over [start, end) (rates.NoStatutoryRate)."""
    periods = rates.rate_periods(code, debtor_type, start, end)
    return rounded(exact(principal_minor, periods, rates.year_days(code)))


def fixed_interest(principal_minor: int, annual_rate: Decimal, start: date, end: date) -> int:
    """Interest at a fixed annual rate (percent) over [start, end), in minor units."""
    if start >= end:
        return 0
    return rounded(exact(principal_minor, [RatePeriod(start, end, annual_rate)]))
