"""Property: the moment a deferral names is a moment the guard allows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import event, given, settings
from hypothesis import strategies as st

from engine.contact_policy import (
    ALLOW,
    DE,
    UK,
    US,
    US_MA,
    ContactContext,
    Defer,
    HoursWindow,
    SentRecord,
    decide,
)

# Each debtor locale with the profile that governs it.
LOCALES = [
    (DE, "Europe/Berlin", "DE", "BY"),
    (DE, "Europe/Berlin", "DE", None),
    (US, "America/Los_Angeles", "US", "CA"),
    (US, "America/New_York", "US", "NY"),
    (US_MA, "America/New_York", "US", "MA"),
    (UK, "Europe/London", "GB", "ENG"),
    (US, "Australia/Lord_Howe", "US", None),  # a half-hour DST shift, to be nasty
]
CHANNELS = ["email", "sms", "call", "letter"]

# Spans whole years, so DST switches, Sundays and holidays all turn up.
moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1))


@st.composite
def windows(draw: st.DrawFn) -> HoursWindow | None:
    if draw(st.booleans()):
        return None
    start = draw(st.integers(min_value=0, max_value=22))
    end = draw(st.integers(min_value=start + 1, max_value=23))
    return HoursWindow(time(start), time(end, draw(st.sampled_from([0, 30, 59]))))


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    policy, zone_name, country, subdivision = draw(st.sampled_from(LOCALES))
    zone = ZoneInfo(zone_name)
    now = draw(moments).replace(tzinfo=zone, fold=draw(st.integers(0, 1)))
    offsets = st.timedeltas(min_value=timedelta(days=-10), max_value=timedelta(hours=6))
    history = [
        SentRecord(ch, now + offset, conversation=talked)
        for ch, offset, talked in draw(
            st.lists(st.tuples(st.sampled_from(CHANNELS), offsets, st.booleans()), max_size=12)
        )
    ]
    context = ContactContext(
        time_zone=zone_name,
        country=country,
        subdivision=subdivision,
        channel=draw(st.sampled_from(CHANNELS)),
        consents={"sms": True},
        preferred_hours=draw(windows()),
    )
    return policy, context, history, now


@settings(max_examples=400, deadline=None)
@given(cases())
def test_a_deferral_lands_on_an_allowed_moment(case):
    policy, context, history, now = case
    decision = decide(policy, context, history, now)
    event(f"{decision.kind} {getattr(decision, 'reason', '')}".split(":")[0])
    if isinstance(decision, Defer):
        assert decide(policy, context, history, decision.until) is ALLOW


@settings(max_examples=200, deadline=None)
@given(cases())
def test_a_deferral_lies_ahead_within_the_horizon(case):
    policy, context, history, now = case
    decision = decide(policy, context, history, now)
    if isinstance(decision, Defer):
        # Compared in UTC: same-zone datetimes compare and add as wall-clock times.
        start, until = now.astimezone(UTC), decision.until.astimezone(UTC)
        assert start < until <= start + policy.deferral_horizon
