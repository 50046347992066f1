"""Frequency caps over rolling windows, minimum gaps and the deferral horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.contact_policy import (
    ALLOW,
    DE,
    US,
    Defer,
    FrequencyCap,
    SentRecord,
    Suppress,
    decide,
    tighten,
)


def _sms_each_day(first: datetime, count: int) -> list[SentRecord]:
    return [SentRecord("sms", first + timedelta(days=i)) for i in range(count)]


def test_seventh_sms_in_seven_days_is_still_allowed(us_context, los_angeles):
    history = _sms_each_day(datetime(2026, 3, 2, 10, tzinfo=los_angeles), 6)
    now = datetime(2026, 3, 8, 12, tzinfo=los_angeles)
    assert decide(US, us_context(channel="sms"), history, now) is ALLOW


def test_eighth_sms_in_seven_days_waits_for_the_oldest_to_leave(us_context, los_angeles):
    history = _sms_each_day(datetime(2026, 3, 2, 10, tzinfo=los_angeles), 7)
    now = datetime(2026, 3, 8, 12, tzinfo=los_angeles)
    decision = decide(US, us_context(channel="sms"), history, now)
    # 2026-03-02 10:00 PST + 168 h = 2026-03-09 11:00 PDT (the window spans the DST switch).
    assert decision == Defer(
        datetime(2026, 3, 9, 11, tzinfo=los_angeles), "frequency_cap:sms:7/7d", decision.message
    )


def test_window_rolls_past_old_messages(us_context, los_angeles):
    history = _sms_each_day(datetime(2026, 3, 2, 10, tzinfo=los_angeles), 7)
    now = datetime(2026, 3, 9, 11, tzinfo=los_angeles)
    assert decide(US, us_context(channel="sms"), history, now) is ALLOW


def test_sms_cap_does_not_count_emails(us_context, los_angeles):
    history = [
        SentRecord("email", r.sent_at)
        for r in _sms_each_day(datetime(2026, 3, 2, 10, tzinfo=los_angeles), 7)
    ]
    now = datetime(2026, 3, 8, 15, tzinfo=los_angeles)  # past the 4 h gap after the last email
    assert decide(US, us_context(channel="sms"), history, now) is ALLOW


def test_cross_channel_cap_counts_every_channel(de_context, berlin):
    history = [
        SentRecord(channel, datetime(2026, 3, day, 9, tzinfo=berlin))
        for day, channel in [(2, "email"), (3, "letter"), (4, "sms"), (5, "email"), (6, "letter")]
    ]
    decision = decide(
        DE, de_context(channel="email"), history, datetime(2026, 3, 7, 12, tzinfo=berlin)
    )
    assert (decision.reason, decision.until) == (
        "frequency_cap:any:5/7d",
        datetime(2026, 3, 9, 9, tzinfo=berlin),
    )


def test_cap_that_frees_at_night_defers_to_the_next_morning(de_context, berlin):
    history = _sms_each_day(datetime(2026, 3, 2, 21, tzinfo=berlin), 3)
    decision = decide(DE, de_context(), history, datetime(2026, 3, 6, 10, tzinfo=berlin))
    assert decision.until == datetime(2026, 3, 10, 8, tzinfo=berlin)


def test_min_gap_defers_to_the_end_of_the_gap(de_context, berlin):
    history = [SentRecord("email", datetime(2026, 3, 4, 6, 0, tzinfo=UTC))]  # 07:00 Berlin
    decision = decide(DE, de_context(), history, datetime(2026, 3, 4, 11, tzinfo=berlin))
    assert (decision.reason, decision.until) == ("min_gap", datetime(2026, 3, 4, 19, tzinfo=berlin))


def test_min_gap_ending_after_hours_moves_to_the_next_morning(de_context, berlin):
    history = [SentRecord("email", datetime(2026, 3, 4, 9, tzinfo=berlin))]
    decision = decide(DE, de_context(), history, datetime(2026, 3, 4, 11, tzinfo=berlin))
    assert (decision.reason, decision.until) == ("min_gap", datetime(2026, 3, 5, 8, tzinfo=berlin))


def test_min_gap_ending_inside_hours_is_exact(us_context, los_angeles):
    history = [SentRecord("email", datetime(2026, 3, 4, 9, tzinfo=los_angeles))]
    decision = decide(US, us_context(), history, datetime(2026, 3, 4, 10, tzinfo=los_angeles))
    assert decision.until == datetime(2026, 3, 4, 13, tzinfo=los_angeles)


def test_a_letter_does_not_start_the_min_gap(de_context, berlin):
    history = [SentRecord("letter", datetime(2026, 3, 4, 9, tzinfo=berlin))]
    assert decide(DE, de_context(), history, datetime(2026, 3, 4, 9, 5, tzinfo=berlin)) is ALLOW


def test_channel_gap_holds_letters_apart(de_context, berlin):
    policy = tighten(DE, channel_min_gap={"letter": timedelta(days=7)})
    history = [SentRecord("letter", datetime(2026, 3, 2, 9, tzinfo=berlin))]
    decision = decide(
        policy, de_context(channel="letter"), history, datetime(2026, 3, 4, 9, tzinfo=berlin)
    )
    assert (decision.reason, decision.until) == (
        "min_gap:letter",
        datetime(2026, 3, 9, 9, tzinfo=berlin),
    )


def test_no_call_within_seven_days_of_a_conversation(us_context, los_angeles):
    talked = datetime(2026, 4, 6, 10, tzinfo=los_angeles)
    history = [SentRecord("call", talked, conversation=True)]
    now = datetime(2026, 4, 8, 10, tzinfo=los_angeles)
    decision = decide(US, us_context(channel="call"), history, now)
    assert (decision.reason, decision.until) == (
        "conversation_cooldown",
        datetime(2026, 4, 13, 10, tzinfo=los_angeles),
    )


def test_unanswered_call_starts_no_cooldown(us_context, los_angeles):
    history = [SentRecord("call", datetime(2026, 3, 2, 10, tzinfo=los_angeles))]
    now = datetime(2026, 3, 4, 10, tzinfo=los_angeles)
    assert decide(US, us_context(channel="call"), history, now) is ALLOW


def test_deferral_beyond_the_horizon_is_suppressed(de_context, berlin):
    policy = tighten(DE, caps=(*DE.caps, FrequencyCap("sms", 1, timedelta(days=30))))
    history = [SentRecord("sms", datetime(2026, 3, 2, 9, tzinfo=berlin))]
    decision = decide(policy, de_context(), history, datetime(2026, 3, 4, 9, tzinfo=berlin))
    # 30 days of real time, across the switch to summer time: 09:00 CET becomes 10:00 CEST.
    assert decision == Suppress(
        "frequency_cap:sms:1/30d", decision.message, datetime(2026, 4, 1, 10, tzinfo=berlin)
    )


def test_horizon_suppression_says_why(de_context, berlin):
    policy = tighten(DE, caps=(*DE.caps, FrequencyCap("sms", 1, timedelta(days=30))))
    history = [SentRecord("sms", datetime(2026, 3, 2, 9, tzinfo=berlin))]
    decision = decide(policy, de_context(), history, datetime(2026, 3, 4, 9, tzinfo=berlin))
    assert "14-day horizon" in decision.message


def test_a_closed_week_is_suppressed(de_context, berlin):
    policy = tighten(DE, allowed_hours=(None,) * 7)
    decision = decide(policy, de_context(), [], datetime(2026, 3, 4, 9, tzinfo=berlin))
    assert (decision.kind, decision.reason, decision.deferred_until) == (
        "suppress",
        "quiet_hours",
        None,
    )
