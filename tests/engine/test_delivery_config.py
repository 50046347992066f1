"""mahnwerk.toml: profiles per channel, secrets from the environment, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.email_smtp import SmtpEmailConnector
from connectors.sms_http import TwilioSmsConnector
from engine.delivery_config import Company, ConfigError, DeliveryConfig, load_delivery_config

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
    assert config.policy_overrides == {
        "DE": {"no_sundays": True, "channels_requiring_consent": ["sms"]}
    }
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


@pytest.mark.xfail(
    strict=True,
    reason="engine bug: engine/delivery_config.py passes [policy.X] values on raw; a duration "
    "such as min_gap cannot be written in TOML, and the error only shows when the dispatcher "
    "builds the policy (TypeError in tighten), stopping every dispatch",
)
def test_a_policy_duration_override_is_read_or_refused_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, FILE.replace("no_sundays = true", 'min_gap = "24h"'))

    try:
        config = load_delivery_config(path, environ=SECRETS)
    except ConfigError:
        return  # refused at load with a clear message: fine
    assert str(config.policy_overrides["DE"]["min_gap"]) == "1 day, 0:00:00"
