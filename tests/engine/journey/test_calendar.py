"""The working calendar: business days, §193 BGB deadlines, month days and step slots."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from engine.journey.calendar import (
    Slot,
    add_business_days,
    deadline_day,
    is_business_day,
    letter_days,
    letter_slot,
    next_month_day,
    next_weekday,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_regional_holiday_is_no_business_day_only_in_its_region() -> None:
    epiphany = date(2026, 1, 6)  # Heilige Drei Könige: Bavaria, not Berlin

    assert not is_business_day(epiphany, "DE", "BY")
    assert is_business_day(epiphany, "DE", None)


def test_business_days_skip_easter() -> None:
    maundy_thursday = date(2026, 4, 2)

    assert add_business_days(maundy_thursday, 1, "DE", None) == date(2026, 4, 7)


@pytest.mark.parametrize(
    ("today", "days", "business", "expected"),
    [
        (date(2026, 3, 23), 12, False, date(2026, 4, 7)),  # Sat 4 Apr -> Easter -> Tue 7 Apr
        (date(2026, 3, 2), 10, False, date(2026, 3, 12)),  # a Thursday: no shift
        (date(2026, 3, 6), 1, False, date(2026, 3, 9)),  # Saturday -> Monday (§193 BGB)
        (date(2026, 4, 2), 10, True, date(2026, 4, 20)),  # ten business days over Easter
    ],
)
def test_a_deadline_never_ends_on_a_weekend_or_holiday(
    today: date, days: int, business: bool, expected: date
) -> None:
    assert deadline_day(today, days, business, "DE", None) == expected


def test_the_next_weekday_is_never_today() -> None:
    monday = date(2026, 3, 2)

    assert next_weekday(monday, "mon") == date(2026, 3, 9)
    assert next_weekday(monday, "fri") == date(2026, 3, 6)


def test_salary_day_on_a_saturday_moves_to_the_friday_before() -> None:
    assert next_month_day(date(2026, 4, 20), 25, "before", "DE", None) == date(2026, 4, 24)
    assert next_month_day(date(2026, 4, 20), 25, "none", "DE", None) == date(2026, 4, 25)
    assert next_month_day(date(2026, 4, 20), 25, "after", "DE", None) == date(2026, 4, 27)


def test_once_this_months_salary_day_has_come_the_next_months_is_taken() -> None:
    # 25 May 2026 is Whit Monday: the business day before is Friday 22 May.
    assert next_month_day(date(2026, 4, 24), 25, "before", "DE", None) == date(2026, 5, 22)


def test_the_31st_is_each_months_last_day_and_month_end_can_move_before() -> None:
    assert next_month_day(date(2026, 4, 1), 31, "none", "DE", None) == date(2026, 4, 30)
    assert next_month_day(date(2026, 5, 10), 31, "before", "DE", None) == date(2026, 5, 29)


def test_a_slot_defers_past_its_hours_to_its_next_day() -> None:
    slot = Slot(frozenset(range(4)), time(8), time(16))  # Monday to Thursday, 08-16
    thursday_evening = datetime(2026, 3, 5, 17, 0, tzinfo=BERLIN)

    opens = slot.next_open(thursday_evening, BERLIN, "DE", None)

    assert opens == datetime(2026, 3, 9, 8, 0, tzinfo=BERLIN)


def test_a_slot_that_is_open_gives_the_moment_itself() -> None:
    slot = Slot(frozenset(range(4)), time(8), time(16))
    tuesday_noon = datetime(2026, 3, 3, 12, 0, tzinfo=BERLIN)

    assert slot.next_open(tuesday_noon, BERLIN, "DE", None) == tuesday_noon


def test_letters_follow_the_jurisdiction_unless_the_journey_chooses() -> None:
    assert letter_days("DE", None) == "no_sundays_or_holidays"
    assert letter_days("US", None) == "any_day"
    assert letter_days("DE", "any_day") == "any_day"
    assert letter_slot("any_day") is None
    sunday = datetime(2026, 3, 8, 10, 0, tzinfo=BERLIN)
    slot = letter_slot("no_sundays_or_holidays")
    assert slot is not None
    assert slot.next_open(sunday, BERLIN, "DE", None) == datetime(2026, 3, 9, tzinfo=BERLIN)
