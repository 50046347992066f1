"""Caps per person or per debt: what a SentRecord about another debt counts for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.contact_policy import (
    ALLOW,
    DE,
    US,
    ContactContext,
    Defer,
    FrequencyCap,
    LoosenedPolicyError,
    SentRecord,
    decide,
    tighten,
)

NOON_NY = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)  # a Tuesday, 12:00 in New York
US_CALL = ContactContext(time_zone="America/New_York", country="US", channel="call")


def calls(count: int, same_debt: bool) -> list[SentRecord]:
    """`count` calls, one every 20 hours up to 20 hours ago."""
    return [
        SentRecord("call", NOON_NY - timedelta(hours=20 * (i + 1)), same_debt=same_debt)
        for i in range(count)
    ]


def test_seven_calls_about_another_debt_do_not_block_this_one() -> None:
    assert decide(US, US_CALL, calls(7, same_debt=False), NOON_NY) == ALLOW


def test_seven_calls_about_this_debt_block_the_eighth() -> None:
    decision = decide(US, US_CALL, calls(7, same_debt=True), NOON_NY)

    assert isinstance(decision, Defer)
    assert decision.reason == "frequency_cap:call:7/7d"


def test_the_minimum_gap_is_the_persons_whatever_debt_the_last_message_was_about() -> None:
    recent = [SentRecord("call", NOON_NY - timedelta(hours=1), same_debt=False)]

    decision = decide(US, US_CALL, recent, NOON_NY)

    assert isinstance(decision, Defer) and decision.reason == "min_gap"


def test_a_conversation_about_another_debt_starts_no_cooldown_for_this_one() -> None:
    talk = [SentRecord("call", NOON_NY - timedelta(days=2), conversation=True, same_debt=False)]

    assert decide(US, US_CALL, talk, NOON_NY) == ALLOW


def test_a_person_cap_counts_every_debt() -> None:
    context = ContactContext(time_zone="Europe/Berlin", country="DE", channel="email")
    moment = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
    five = [
        SentRecord("email", moment - timedelta(hours=13 * (i + 1)), same_debt=i % 2 == 0)
        for i in range(5)
    ]

    decision = decide(DE, context, five, moment)

    assert isinstance(decision, Defer) and decision.reason == "frequency_cap:any:5/7d"


def test_a_per_debt_cap_cannot_tighten_a_per_person_one() -> None:
    with pytest.raises(LoosenedPolicyError, match="caps"):
        tighten(DE, caps=(FrequencyCap(None, 5, timedelta(days=7), scope="debt"), *DE.caps[1:]))


def test_a_scope_must_be_person_or_debt() -> None:
    with pytest.raises(ValueError, match="scope"):
        FrequencyCap("call", 7, timedelta(days=7), scope="household")  # type: ignore[arg-type]
