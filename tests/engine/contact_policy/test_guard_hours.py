"""Quiet hours, Sundays, public holidays and DST in the debtor's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.contact_policy import (
    ALLOW,
    DE,
    US,
    Defer,
    HoursWindow,
    UnknownRegionError,
    decide,
)


def test_early_morning_in_los_angeles_defers_to_eight_local(us_context, los_angeles):
    now = datetime(2026, 3, 4, 7, 30, tzinfo=los_angeles)
    decision = decide(US, us_context(), [], now)
    assert decision == Defer(
        datetime(2026, 3, 4, 8, 0, tzinfo=los_angeles), "quiet_hours", decision.message
    )


def test_quiet_hours_follow_the_debtor_not_the_server(us_context):
    # 16:30 in Berlin is 07:30 in Los Angeles.
    now = datetime(2026, 3, 4, 16, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert decide(US, us_context(), [], now).reason == "quiet_hours"


def test_inside_hours_is_allowed(us_context, los_angeles):
    assert decide(US, us_context(), [], datetime(2026, 3, 4, 8, 0, tzinfo=los_angeles)) is ALLOW


def test_end_of_window_is_exclusive(us_context, los_angeles):
    now = datetime(2026, 3, 4, 21, 0, tzinfo=los_angeles)
    assert decide(US, us_context(), [], now).until == datetime(2026, 3, 5, 8, tzinfo=los_angeles)


def test_sunday_defers_to_monday_morning(de_context, berlin):
    decision = decide(DE, de_context(), [], datetime(2026, 3, 8, 11, tzinfo=berlin))
    assert (decision.reason, decision.until) == ("sunday", datetime(2026, 3, 9, 8, tzinfo=berlin))


def test_christmas_and_sunday_defer_to_monday_the_28th(de_context, berlin):
    # 25 and 26 Dec 2026 are holidays (Friday, Saturday), 27 is a Sunday.
    decision = decide(DE, de_context(), [], datetime(2026, 12, 25, 10, tzinfo=berlin))
    assert (decision.reason, decision.until) == (
        "public_holiday",
        datetime(2026, 12, 28, 8, tzinfo=berlin),
    )


def test_holiday_sentence_names_the_holiday(de_context, berlin):
    decision = decide(DE, de_context(), [], datetime(2026, 12, 25, 10, tzinfo=berlin))
    assert "Christmas" in decision.message


def test_epiphany_is_a_holiday_in_bavaria(de_context, berlin):
    decision = decide(DE, de_context(subdivision="BY"), [], datetime(2026, 1, 6, 10, tzinfo=berlin))
    assert decision.until == datetime(2026, 1, 7, 8, tzinfo=berlin)


def test_epiphany_is_a_working_day_in_berlin(de_context, berlin):
    now = datetime(2026, 1, 6, 10, tzinfo=berlin)
    assert decide(DE, de_context(subdivision="BE"), [], now) is ALLOW


def test_letters_are_posted_on_sundays(de_context, berlin):
    now = datetime(2026, 3, 8, 23, tzinfo=berlin)
    assert decide(DE, de_context(channel="letter"), [], now) is ALLOW


def test_preferred_hours_narrow_the_window(de_context, berlin):
    context = de_context(preferred_hours=HoursWindow(time(18), time(22)))
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert (decision.reason, decision.until) == (
        "preferred_hours",
        datetime(2026, 3, 4, 18, tzinfo=berlin),
    )


def test_spring_forward_day_defers_to_eight_daylight_time(us_context, los_angeles):
    # 2026-03-08: clocks in Los Angeles jump from 02:00 PST to 03:00 PDT.
    now = datetime(2026, 3, 8, 1, 30, tzinfo=los_angeles)
    decision = decide(US, us_context(), [], now)
    # Subtract in UTC: Python subtracts same-zone datetimes as wall-clock times.
    assert decision.until.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=5, minutes=30)


def test_spring_forward_day_opens_at_eight_wall_clock(us_context, los_angeles):
    decision = decide(US, us_context(), [], datetime(2026, 3, 8, 1, 30, tzinfo=los_angeles))
    assert decision.until.utcoffset() == timedelta(hours=-7)


def test_fall_back_night_counts_the_extra_hour(us_context, los_angeles):
    # 2026-11-01 01:00-02:00 happens twice; 21:30 to 08:00 next day is 11.5 real hours.
    now = datetime(2026, 10, 31, 21, 30, tzinfo=los_angeles)
    until = decide(US, us_context(), [], now).until
    assert until.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=11, minutes=30)


def test_unknown_country_is_a_clear_error(de_context, berlin):
    with pytest.raises(UnknownRegionError):
        decide(DE, de_context(country="XX"), [], datetime(2026, 3, 4, 10, tzinfo=berlin))


def test_naive_now_is_refused(de_context):
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(DE, de_context(), [], datetime(2026, 3, 4, 10))
