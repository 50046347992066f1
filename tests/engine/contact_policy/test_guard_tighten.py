"""tighten(): stricter overrides pass, looser ones fail and name the field."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest

from engine.contact_policy import (
    DE,
    US,
    US_MA,
    ContactPolicy,
    FrequencyCap,
    HoldRule,
    LoosenedPolicyError,
    tighten,
    weekly,
)
from engine.contact_policy.tighten import _CHECKS

WEEK = timedelta(days=7)


def test_narrower_hours_are_accepted():
    policy = tighten(DE, allowed_hours=weekly(time(9), time(18), range(5)))
    assert policy.allowed_hours[5] is None


def test_tightening_leaves_the_profile_untouched():
    tighten(DE, min_gap=timedelta(days=2))
    assert DE.min_gap == timedelta(hours=12)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowed_hours", weekly(time(7), time(20), range(6))),
        ("allowed_hours", weekly(time(8), time(20))),  # opens Sunday
        ("no_sundays", False),
        ("no_public_holidays", False),
        ("caps", (FrequencyCap(None, 6, WEEK),)),
        ("caps", (FrequencyCap(None, 5, timedelta(days=6)), *DE.caps[1:])),
        ("min_gap", timedelta(hours=1)),
        ("channel_min_gap", {}),
        ("holds", {k: v for k, v in DE.holds.items() if k != "dispute"}),
        ("holds", {**DE.holds, "dispute": HoldRule(action="defer")}),
        (
            "holds",
            {**DE.holds, "insolvency": HoldRule(allowed_during_hold=frozenset({"reminder"}))},
        ),
        ("deferral_horizon", timedelta(days=30)),
        ("posted_channels", frozenset({"letter", "email"})),
    ],
)
def test_loosening_is_refused_and_names_the_field(field, value):
    base = tighten(DE, channel_min_gap={"letter": WEEK})
    with pytest.raises(LoosenedPolicyError, match=f"'{field}'"):
        tighten(base, **{field: value})


def test_dropping_sms_consent_is_refused():
    with pytest.raises(LoosenedPolicyError) as error:
        tighten(US, channels_requiring_consent=frozenset())
    assert error.value.field == "channels_requiring_consent"


def test_shorter_conversation_cooldown_is_refused():
    with pytest.raises(LoosenedPolicyError, match="conversation_cooldown"):
        tighten(US, conversation_cooldown=timedelta(days=1))


def test_stricter_caps_are_accepted():
    policy = tighten(DE, caps=(FrequencyCap(None, 3, timedelta(days=10)), *DE.caps[1:]))
    assert policy.caps[0].max_count == 3


def test_unknown_field_is_a_type_error():
    with pytest.raises(TypeError, match="quiet_hours"):
        tighten(DE, quiet_hours=None)


def test_every_policy_field_says_how_it_tightens():
    assert set(_CHECKS) == {f.name for f in dataclasses.fields(ContactPolicy)}


def test_massachusetts_overlay_allows_two_texts_a_week():
    assert FrequencyCap("sms", 2, WEEK) in US_MA.caps
