"""Country profiles carry the values of compliance.md."""

from __future__ import annotations

from datetime import time

import pytest

from engine.contact_policy import DE, UK, US, US_MA, HoursWindow, profile_for


def test_germany_is_monday_to_saturday_eight_to_eight():
    assert DE.allowed_hours == (HoursWindow(time(8), time(20)),) * 6 + (None,)


def test_us_is_eight_to_nine_every_day():
    assert US.allowed_hours == (HoursWindow(time(8), time(21)),) * 7


def test_us_sms_needs_consent():
    assert "sms" in US.channels_requiring_consent


def test_uk_knows_breathing_space():
    assert "breathing_space" in UK.holds


def test_cease_contact_lets_termination_notices_through():
    assert "termination_notice" in US.holds["cease_contact"].allowed_during_hold


@pytest.mark.parametrize(
    ("country", "subdivision", "profile"),
    [("DE", "BY", DE), ("UK", None, UK), ("GB", "SCT", UK), ("US", "CA", US), ("US", "MA", US_MA)],
)
def test_profile_for_picks_the_region(country, subdivision, profile):
    assert profile_for(country, subdivision) is profile


def test_profile_for_an_unknown_country_fails():
    with pytest.raises(LookupError):
        profile_for("FR")


def test_profiles_are_read_only():
    with pytest.raises(TypeError):
        DE.holds["dispute"] = None  # type: ignore[index]
