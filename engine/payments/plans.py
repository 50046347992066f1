"""Instalment plans on paper: a journey's limits, and the schedule a debtor's choice makes. Pure.

A schedule splits the open balance (integer minor units) into instalments that sum to it exactly:
every instalment gets the whole-unit share and the first carries the remainder, so the later
ones are equal and the debtor pays the odd cents first. Dates run from the first date by the
journey's interval: monthly on the same day of the month (the month's last day where it is
shorter: Jan 31, Feb 28, Mar 31), or every 14 days.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from engine.core.messages import Text, msg

INTERVALS = ("monthly", "biweekly")


@dataclass(frozen=True)
class PlanLimits:
    """What a journey allows (`settings.plans`, engine/journey/document.py)."""

    allowed: bool = False
    max_instalments: int = 6
    min_instalment_minor: int = 2000
    first_within_days: int = 14
    interval: str = "monthly"
    grace_days: int = 3

    @classmethod
    def of(cls, document: dict[str, Any] | None) -> PlanLimits:
        """The limits a journey document sets; without `settings.plans` no plan is allowed."""
        chosen = ((document or {}).get("settings") or {}).get("plans")
        if not chosen:
            return cls()
        known = {k: chosen[k] for k in cls.__dataclass_fields__ if k in chosen}
        return cls(**known)

    def most_instalments(self, total_minor: int) -> int:
        """The most instalments a balance allows: each at least the minimum, at most the max."""
        if self.min_instalment_minor <= 0:
            return self.max_instalments
        return min(self.max_instalments, total_minor // self.min_instalment_minor)


@dataclass(frozen=True)
class Instalment:
    """One instalment of a plan: its place (1-based), the day it falls due, and its amount."""

    seq: int
    due_date: date
    amount_minor: int


class PlanRefused(ValueError):
    """A plan the limits do not allow; `field` names the form field, `words` say why."""

    def __init__(self, field: str, words: Text) -> None:
        super().__init__(words.text())
        self.field = field
        self.words = words


def add_months(start: date, months: int) -> date:
    """The same day `months` later, or that month's last day where it is shorter."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def due_dates(first: date, count: int, interval: str) -> list[date]:
    """The instalments' dates from the first by the interval."""
    if interval == "biweekly":
        return [first + timedelta(days=14 * i) for i in range(count)]
    return [add_months(first, i) for i in range(count)]


def split_amounts(total_minor: int, count: int) -> list[int]:
    """`count` whole amounts summing exactly to `total_minor`; the first carries the remainder."""
    share, rest = divmod(total_minor, count)
    return [share + rest] + [share] * (count - 1)


def schedule(
    limits: PlanLimits, total_minor: int, count: int, first: date, today: date
) -> list[Instalment]:
    """The plan a debtor's choice makes, or PlanRefused naming the field that breaks a limit."""
    if not limits.allowed:
        raise PlanRefused("plan", msg("This case cannot be paid in instalments."))
    most = limits.most_instalments(total_minor)
    if most < 2:
        raise PlanRefused("plan", msg("The amount open is too small for instalments."))
    if not 2 <= count <= most:
        raise PlanRefused(
            "instalments", msg("Please choose between 2 and {most} instalments.", most=most)
        )
    last_first = today + timedelta(days=limits.first_within_days)
    if not today <= first <= last_first:
        raise PlanRefused(
            "first_date",
            msg(
                "Please choose a first date between {low} and {high}.",
                low=today.isoformat(),
                high=last_first.isoformat(),
            ),
        )
    amounts = split_amounts(total_minor, count)
    dates = due_dates(first, count, limits.interval)
    return [Instalment(i + 1, d, a) for i, (d, a) in enumerate(zip(dates, amounts, strict=True))]
