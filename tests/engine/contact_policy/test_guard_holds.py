"""Holds: dispute, cease contact, breathing space and the notices that still pass."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from engine.contact_policy import (
    ALLOW,
    DE,
    UK,
    US,
    ContactContext,
    Defer,
    HoldRule,
    Suppress,
    decide,
)

# A company may choose to defer instead of suppress (a looser choice, so built directly).
DEFERRING_DISPUTE = dataclasses.replace(
    DE, holds={**DE.holds, "dispute": HoldRule(action="defer", recheck=timedelta(days=2))}
)


def test_dispute_suppresses_a_reminder(de_context, berlin):
    context = de_context(holds=frozenset({"dispute"}))
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision == Suppress("hold:dispute", decision.message)


def test_dispute_defers_when_the_policy_says_so(de_context, berlin):
    context = de_context(holds=frozenset({"dispute"}))
    decision = decide(DEFERRING_DISPUTE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision == Defer(
        datetime(2026, 3, 6, 10, tzinfo=berlin), "hold:dispute", decision.message
    )


def test_deferred_hold_lands_in_open_hours(de_context, berlin):
    context = de_context(holds=frozenset({"dispute"}))
    decision = decide(DEFERRING_DISPUTE, context, [], datetime(2026, 3, 5, 21, tzinfo=berlin))
    assert decision.until == datetime(2026, 3, 9, 8, tzinfo=berlin)  # Sat 7th 21:00 -> Mon


def test_verification_notice_passes_a_dispute(de_context, berlin):
    context = de_context(
        channel="letter", purpose="verification_notice", holds=frozenset({"dispute"})
    )
    assert decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin)) is ALLOW


def test_termination_notice_passes_cease_contact(us_context, los_angeles):
    context = us_context(purpose="termination_notice", holds=frozenset({"cease_contact"}))
    assert decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=los_angeles)) is ALLOW


def test_reminder_is_suppressed_after_cease_contact(us_context, los_angeles):
    context = us_context(holds=frozenset({"cease_contact"}))
    decision = decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=los_angeles))
    assert decision.reason == "hold:cease_contact"


def test_allowed_notice_still_respects_quiet_hours(us_context, los_angeles):
    context = us_context(purpose="termination_notice", holds=frozenset({"cease_contact"}))
    decision = decide(US, context, [], datetime(2026, 3, 4, 22, tzinfo=los_angeles))
    assert decision.reason == "quiet_hours"


def test_letters_are_bound_by_holds(de_context, berlin):
    context = de_context(channel="letter", holds=frozenset({"insolvency"}))
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision.reason == "hold:insolvency"


def test_breathing_space_stops_uk_contact(berlin):
    context = ContactContext(
        "Europe/London", "GB", "email", subdivision="ENG", holds=frozenset({"breathing_space"})
    )
    decision = decide(UK, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision.reason == "hold:breathing_space"


def test_an_unknown_hold_fails_closed(de_context, berlin):
    context = de_context(holds=frozenset({"attorney_known"}))
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision == Suppress("hold:attorney_known", decision.message)


def test_a_suppressing_hold_beats_a_deferring_one(de_context, berlin):
    context = de_context(holds=frozenset({"dispute", "deceased"}))
    decision = decide(DEFERRING_DISPUTE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision.reason == "hold:deceased"
