"""Consent and opt-out: a refused channel is suppressed, never deferred."""

from __future__ import annotations

from datetime import datetime

from engine.contact_policy import ALLOW, DE, US, Suppress, decide


def test_us_sms_without_consent_is_suppressed(us_context, los_angeles):
    context = us_context(channel="sms", consents={})
    decision = decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=los_angeles))
    assert decision == Suppress("no_consent", decision.message)


def test_us_sms_with_unknown_consent_is_suppressed(us_context, los_angeles):
    context = us_context(channel="sms", consents={"sms": None})
    decision = decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=los_angeles))
    assert decision.reason == "no_consent"


def test_us_sms_with_consent_is_allowed(us_context, los_angeles):
    context = us_context(channel="sms", consents={"sms": True})
    assert decide(US, context, [], datetime(2026, 3, 4, 10, tzinfo=los_angeles)) is ALLOW


def test_consent_is_checked_before_hours(us_context, los_angeles):
    context = us_context(channel="sms", consents={})
    decision = decide(US, context, [], datetime(2026, 3, 4, 3, tzinfo=los_angeles))
    assert decision.kind == "suppress"


def test_german_sms_needs_no_consent(de_context, berlin):
    assert decide(DE, de_context(), [], datetime(2026, 3, 4, 10, tzinfo=berlin)) is ALLOW


def test_revoked_consent_is_respected_where_none_is_needed(de_context, berlin):
    context = de_context(consents={"sms": False})
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision.reason == "no_consent"


def test_opt_out_is_suppressed(de_context, berlin):
    context = de_context(channel="email", opted_out=frozenset({"email"}))
    decision = decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin))
    assert decision == Suppress("opted_out", decision.message)


def test_opt_out_of_one_channel_leaves_the_others(de_context, berlin):
    context = de_context(channel="letter", opted_out=frozenset({"email"}))
    assert decide(DE, context, [], datetime(2026, 3, 4, 10, tzinfo=berlin)) is ALLOW
