"""The working calendar of a debtor's region: business days, month days and allowed slots.

A business day is Monday to Friday and not a public holiday of the debtor's country and region
(the `holidays` package). Waits, deadlines in texts (§193 BGB), a step's allowed weekdays and
hours, and the journey's letter calendar all count days here, so they can never disagree.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from engine.core.messages import Message, msg

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # indexed by date.weekday()
WEEKDAY_WORDS: dict[str, Message] = {
    "mon": msg("Monday"),
    "tue": msg("Tuesday"),
    "wed": msg("Wednesday"),
    "thu": msg("Thursday"),
    "fri": msg("Friday"),
    "sat": msg("Saturday"),
    "sun": msg("Sunday"),
}
# Where a day that is not a business day moves: nowhere, to the business day before (salary is
# paid early), or to the one after (§193 BGB: a deadline ends on the next business day).
SHIFTS = ("none", "before", "after")
# A journey's letter calendar: on which days a letter may be dated and handed to the post.
LETTER_DAYS = ("any_day", "no_sundays_or_holidays", "business_days")
# The default per jurisdiction where a journey does not choose: DE and UK letters are not dated
# on a Sunday or public holiday (DE-12, UK-03 design); elsewhere any day.
LETTER_DAYS_DEFAULT = {"DE": "no_sundays_or_holidays", "UK": "no_sundays_or_holidays"}
_ONE_DAY = timedelta(days=1)
_LIMIT_DAYS = 400  # no rule looks further: a year always holds business days


@lru_cache(maxsize=512)
def _holidays(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    """Public holidays of one country (and region) and year; cached because it is costly."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError:
        return holidays.HolidayBase()


def is_holiday(day: date, country: str, subdivision: str | None) -> bool:
    """Whether `day` is a public holiday in the country (and region)."""
    return day in _holidays(country, subdivision, day.year)


def is_business_day(day: date, country: str, subdivision: str | None) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and not is_holiday(day, country, subdivision)


def add_business_days(start: date, n: int, country: str, subdivision: str | None) -> date:
    """`n` business days after `start` (n <= 0: `start` itself)."""
    day = start
    while n > 0:
        day += _ONE_DAY
        if is_business_day(day, country, subdivision):
            n -= 1
    return day


def days_later(now: datetime, days: int, business: bool, case: Any) -> datetime:
    """`days` days after `now`, or `days` business days in the debtor's region at the same local
    time of day (a timeout, a task's due moment); never before `now`. `case`: a case state or row
    (its time zone, country and subdivision)."""
    if not business:
        return now + timedelta(days=days)
    local = now.astimezone(ZoneInfo(case.timezone))
    day = add_business_days(local.date(), days, case.country, case.subdivision)
    return max(datetime.combine(day, local.time(), local.tzinfo).astimezone(UTC), now)


def shift(day: date, direction: str, country: str, subdivision: str | None) -> date:
    """`day`, or where it moves when it is no business day ('before', 'after' or 'none')."""
    if direction not in ("before", "after"):
        return day
    step = _ONE_DAY if direction == "after" else -_ONE_DAY
    for _ in range(_LIMIT_DAYS):
        if is_business_day(day, country, subdivision):
            return day
        day += step
    return day


def deadline_day(
    today: date, days: int, business: bool, country: str, subdivision: str | None
) -> date:
    """A deadline `days` from today; one that ends on a weekend or holiday ends on the next
    business day (§193 BGB), and business days count only business days."""
    if business:
        return add_business_days(today, days, country, subdivision)
    return shift(today + timedelta(days=days), "after", country, subdivision)


def next_weekday(today: date, weekday: str) -> date:
    """The next such weekday after today (never today itself)."""
    ahead = (WEEKDAYS.index(weekday) - today.weekday() - 1) % 7 + 1
    return today + timedelta(days=ahead)


def month_day(year: int, month: int, day_of_month: int) -> date:
    """Day `day_of_month` of a month; the 31st of a 30-day month is its last day."""
    last = _calendar.monthrange(year, month)[1]
    return date(year, month, min(day_of_month, last))


def next_month_day(
    today: date, day_of_month: int, direction: str, country: str, subdivision: str | None
) -> date:
    """The next day-of-month after today, shifted off weekends and holidays as asked.

    'The 31st' is each month's last day; a shifted day that lands on or before today counts
    for this month already, so the next month's is taken.
    """
    year, month = today.year, today.month
    for _ in range(14):
        day = shift(month_day(year, month, day_of_month), direction, country, subdivision)
        if day > today:
            return day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    raise ValueError(f"no day {day_of_month} of a month after {today}")  # pragma: no cover


@dataclass(frozen=True)
class Slot:
    """When a step may let its message go: weekdays, a daily time window, holidays or not."""

    weekdays: frozenset[int] = frozenset(range(7))
    start: time = time(0, 0)
    end: time | None = None  # None: until midnight
    skip_holidays: bool = False

    def open_on(self, day: date, country: str, subdivision: str | None) -> bool:
        """Whether the step may send at all on `day`."""
        if day.weekday() not in self.weekdays:
            return False
        return not (self.skip_holidays and is_holiday(day, country, subdivision))

    def next_open(
        self, moment: datetime, zone: ZoneInfo, country: str, subdivision: str | None
    ) -> datetime:
        """The first moment at or after `moment` inside the slot, in `zone` (aware)."""
        local = moment.astimezone(zone)
        day = local.date()
        for _ in range(_LIMIT_DAYS):
            if self.open_on(day, country, subdivision):
                opening = datetime.combine(day, self.start, zone)
                if day != local.date() or local.time() < self.start:
                    return opening
                if self.end is None or local.time() < self.end:
                    return local
            day += _ONE_DAY
        return local  # pragma: no cover - a validated slot opens at least weekly


def letter_days(jurisdiction: str, chosen: str | None) -> str:
    """The journey's letter calendar, or its jurisdiction's default."""
    return chosen or LETTER_DAYS_DEFAULT.get(jurisdiction, "any_day")


def letter_slot(rule: str) -> Slot | None:
    """The slot a letter may be dated in under `rule` (None: any day)."""
    if rule == "business_days":
        return Slot(weekdays=frozenset(range(5)), skip_holidays=True)
    if rule == "no_sundays_or_holidays":
        return Slot(weekdays=frozenset(range(6)), skip_holidays=True)
    return None
