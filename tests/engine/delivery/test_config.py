"""mahnwerk.toml: profiles per channel, secrets from the environment, clear errors."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from connectors.email_smtp import SmtpEmailConnector
from connectors.sms_http import TwilioSmsConnector
from engine.contact_policy import DE, US, US_MA, FrequencyCap, HoursWindow
from engine.delivery.config import (
    Company,
    ConfigError,
    DeliveryConfig,
    PolicyOverride,
    load_delivery_config,
)

FILE = """
[company]
name = "Beispiel GmbH"
email_from = "mahnung@beispiel.example"

[channels]
email = "smtp-main"
sms = "twilio"

[profiles.smtp-main]
provider = "smtp"
host = "mail.beispiel.example"
username = "mahnwerk"

[profiles.twilio]
provider = "twilio"
account_sid = "AC123"
from_number = "+4930123456"
price_per_segment = "0.075"

[policy.DE]
no_sundays = true
channels_requiring_consent = ["sms"]
"""
SECRETS = {
    "MAHNWERK_PROFILE_SMTP_MAIN_PASSWORD": "smtp-pw",
    "MAHNWERK_PROFILE_TWILIO_AUTH_TOKEN": "tw-token",
}


def write(tmp_path: Path, text: str = FILE) -> Path:
    path = tmp_path / "mahnwerk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_profiles_company_and_policy_come_from_the_file_and_secrets_from_the_env(
    tmp_path: Path,
) -> None:
    config = load_delivery_config(write(tmp_path), environ=SECRETS)

    assert config.profiles["email"] == {
        "provider": "smtp",
        "host": "mail.beispiel.example",
        "username": "mahnwerk",
        "password": "smtp-pw",
    }
    assert config.profiles["sms"]["auth_token"] == "tw-token"
    assert config.profiles["letter"] == {"provider": "sandbox"}
    assert (config.company.name, config.company.city) == ("Beispiel GmbH", "Berlin")
    assert config.policy_overrides["DE"].settings == {
        "no_sundays": True,
        "channels_requiring_consent": ["sms"],
    }
    # The section adds SMS to the profile's own (WhatsApp's opt-in stays).
    assert config.policy_overrides["DE"].apply(DE).channels_requiring_consent == {"sms", "whatsapp"}
    assert config.source == str(tmp_path / "mahnwerk.toml")


def test_the_profiles_build_real_connectors(tmp_path: Path) -> None:
    connectors = load_delivery_config(write(tmp_path), environ=SECRETS).connectors()

    assert isinstance(connectors["email"], SmtpEmailConnector)
    assert connectors["email"].password == "smtp-pw"
    assert isinstance(connectors["sms"], TwilioSmsConnector)
    assert connectors["sms"].auth_token == "tw-token"


def test_without_a_file_every_channel_is_a_sandbox(tmp_path: Path) -> None:
    config = load_delivery_config(environ={"MAHNWERK_INSTANCE": str(tmp_path)})

    assert config == DeliveryConfig()
    assert config.company == Company()


def test_the_file_is_found_through_mahnwerk_config_or_the_instance_folder(
    tmp_path: Path,
) -> None:
    path = write(tmp_path)

    by_variable = load_delivery_config(environ={"MAHNWERK_CONFIG": str(path), **SECRETS})
    by_instance = load_delivery_config(environ={"MAHNWERK_INSTANCE": str(tmp_path), **SECRETS})

    assert by_variable.source == by_instance.source == str(path)


def test_a_secret_in_the_file_is_refused_naming_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace('username = "mahnwerk"', 'password = "oops"'))

    with pytest.raises(ConfigError) as error:
        load_delivery_config(path, environ={})

    assert str(error.value) == (
        f"{path}: [profiles.smtp-main] password must not be in the file; "
        "set MAHNWERK_PROFILE_SMTP_MAIN_PASSWORD."
    )


def test_a_channel_naming_a_missing_profile_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace('sms = "twilio"', 'sms = "vonage"'))

    with pytest.raises(ConfigError, match=r"\[channels\] sms names profile 'vonage'"):
        load_delivery_config(path, environ={})


def test_an_unknown_company_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace('name = "Beispiel GmbH"', 'nmae = "Beispiel GmbH"'))

    with pytest.raises(ConfigError, match=r"\[company\] has unknown keys: nmae"):
        load_delivery_config(path, environ={})


def test_broken_toml_and_a_missing_file_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_delivery_config(write(tmp_path, "[channels\n"), environ={})
    with pytest.raises(ConfigError, match="cannot read the settings file"):
        load_delivery_config(tmp_path / "nope.toml", environ={})


def test_a_raw_duration_is_refused_at_load_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace("no_sundays = true", 'min_gap = "24h"'))

    with pytest.raises(ConfigError) as error:
        load_delivery_config(path, environ=SECRETS)

    assert str(error.value).startswith(f"{path}: [policy.DE] min_gap: unknown key (durations")


POLICY = """
[policy.DE]
min_gap_hours = 24
deferral_horizon_days = 7
channel_min_gap_hours = {sms = 72}
hours = {start = "09:00", end = "19:00", sat = {start = "10:00", end = "14:00"}}
caps = [{channel = "sms", max = 2, days = 7}, {max = 1, hours = 36}]

[policy.US]
conversation_cooldown_days = 10
hours = {start = "09:00", end = "20:00", sun = false}
no_sundays = true
"""


def policies(tmp_path: Path, text: str = POLICY) -> dict[str, PolicyOverride]:
    return load_delivery_config(write(tmp_path, text), environ={}).policy_overrides


def test_durations_hours_and_caps_are_read_and_tighten_the_profile(tmp_path: Path) -> None:
    de = policies(tmp_path)["DE"].apply(DE)

    assert (de.min_gap, de.deferral_horizon) == (timedelta(hours=24), timedelta(days=7))
    assert dict(de.channel_min_gap) == {"sms": timedelta(hours=72)}
    nine_to_seven = HoursWindow(time(9), time(19))
    assert de.allowed_hours == (*[nine_to_seven] * 5, HoursWindow(time(10), time(14)), None)
    assert de.caps == (
        *DE.caps,
        FrequencyCap("sms", 2, timedelta(days=7)),
        FrequencyCap(None, 1, timedelta(hours=36)),
    )
    assert de.no_sundays and de.holds == DE.holds  # untouched fields stay


def test_a_us_section_applies_to_the_state_overlays_too(tmp_path: Path) -> None:
    us = policies(tmp_path)["US"]

    for profile in (US, US_MA):
        tight = us.apply(profile)
        assert tight.conversation_cooldown == timedelta(days=10) and tight.no_sundays
        assert tight.allowed_hours[6] is None
        assert tight.allowed_hours[0] == HoursWindow(time(9), time(20))
    assert us.apply(US_MA).caps == US_MA.caps


def test_the_dispatcher_uses_the_parsed_section() -> None:
    config = DeliveryConfig(policy_overrides={"DE": {"min_gap_hours": 48}}, source="x.toml")

    assert config.policy_overrides["DE"].apply(DE).min_gap == timedelta(hours=48)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "min_gap_hours = 6",
            "[policy.DE] min_gap_hours: tighten() refuses to loosen 'min_gap': "
            "6:00:00 is shorter than 12:00:00 (profile DE).",
        ),
        (
            "no_sundays = false",
            "[policy.DE] no_sundays: tighten() refuses to loosen 'no_sundays': "
            "cannot switch a ban off (profile DE).",
        ),
        (
            'hours = {start = "07:00", end = "19:00"}',
            "[policy.DE] hours: tighten() refuses to loosen 'allowed_hours': "
            "weekday 0 window 07:00-19:00 is not inside 08:00-20:00 (profile DE).",
        ),
        (
            'hours = {sun = {start = "10:00", end = "12:00"}}',
            "[policy.DE] hours: tighten() refuses to loosen 'allowed_hours': "
            "weekday 6 window 10:00-12:00 is not inside closed (profile DE).",
        ),
        (
            "deferral_horizon_days = 30",
            "[policy.DE] deferral_horizon_days: tighten() refuses to loosen 'deferral_horizon': "
            "30 days, 0:00:00 is longer than 14 days, 0:00:00 (profile DE).",
        ),
        (
            'min_gap_hours = "24"',
            "[policy.DE] min_gap_hours: must be a number of hours (0 or more), not '24'.",
        ),
        (
            'hours = {start = "9 am", end = "19:00"}',
            "[policy.DE] hours.start: must be a time of day like \"09:00\", not '9 am'.",
        ),
        (
            'hours = {start = "19:00", end = "09:00"}',
            "[policy.DE] hours: start 19:00 must be before end 09:00.",
        ),
        (
            'caps = [{channel = "sms", max = 0, days = 7}]',
            "[policy.DE] caps[0].max: must be a whole number of at least 1, not 0.",
        ),
        (
            'caps = [{channel = "sms", max = 2}]',
            "[policy.DE] caps[0]: needs the window as either days or hours.",
        ),
        ("no_sundays = 1", "[policy.DE] no_sundays: must be true or false."),
        (
            'channels_requiring_consent = "sms"',
            '[policy.DE] channels_requiring_consent: must be a list of channels, e.g. ["sms"].',
        ),
    ],
)
def test_a_bad_or_loosening_policy_value_is_refused_at_load(
    tmp_path: Path, section: str, message: str
) -> None:
    path = write(tmp_path, f"[policy.DE]\n{section}\n")

    with pytest.raises(ConfigError) as error:
        load_delivery_config(path, environ={})

    assert str(error.value) == f"{path}: {message}"


def test_a_us_section_that_loosens_the_massachusetts_overlay_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[policy.US]\nhours = {start = "08:00", end = "22:00"}\n')

    with pytest.raises(ConfigError, match=r"\[policy.US\] hours: .* \(profile US\)\.$"):
        load_delivery_config(path, environ={})
