"""Delivery settings: which connector profile serves each channel, who the creditor is, and
whether webhooks may target private addresses (`[webhooks] allow_private`, default false).

Read from a TOML file (MAHNWERK_CONFIG, default instance/mahnwerk.toml when it exists); secrets
come only from the environment as MAHNWERK_PROFILE_<PROFILE>_<KEY> (e.g.
MAHNWERK_PROFILE_SMTP_PASSWORD). Without a file every channel uses its sandbox.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from connectors import build_connector
from engine.contact_policy import (
    ContactPolicy,
    FrequencyCap,
    HoursWindow,
    LoosenedPolicyError,
    jurisdiction_profiles,
    tighten,
)
from engine.core.channels import CHANNELS
from engine.core.jurisdictions import FALLBACK, JURISDICTIONS, NONE, jurisdiction, jurisdiction_of

SECRET_KEYS = (
    "password",
    "auth_token",
    "secret",
    "api_key",
    "token",
    "access_token",
    "app_secret",
    "verify_token",
)
# Channels that stay off (no sandbox either) until [channels] names a profile for them:
# a journey's WhatsApp step then falls back or is suppressed `channel_disabled`.
OPT_IN = frozenset({"whatsapp"})


class ConfigError(ValueError):
    """The delivery settings are wrong; the message names the file, section and key."""


@dataclass(frozen=True)
class Company:
    """The creditor as shown in messages and letters."""

    name: str = "Mahnwerk Demo GmbH"
    street: str = "Musterstraße 1"
    postcode: str = "10115"
    city: str = "Berlin"
    country: str = "DE"
    email_from: str = "forderungen@mahnwerk.example"
    iban: str | None = "DE02120300000000202051"
    bic: str | None = "BYLADEM1001"


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
# [policy.X] keys whose value is the ContactPolicy field's own type.
_FLAGS = {"no_sundays": "no_sundays", "no_public_holidays": "no_public_holidays"}
# Durations: TOML key -> (ContactPolicy field, unit).
_DURATIONS = {
    "min_gap_hours": ("min_gap", "hours"),
    "conversation_cooldown_days": ("conversation_cooldown", "days"),
    "deferral_horizon_days": ("deferral_horizon", "days"),
}
POLICY_KEYS = (
    *_FLAGS,
    "channels_requiring_consent",
    *_DURATIONS,
    "channel_min_gap_hours",
    "hours",
    "caps",
)
# The TOML key that sets a ContactPolicy field, to name it in an error.
_KEY_FOR_FIELD = {
    **{f: k for k, f in _FLAGS.items()},
    **{f: k for k, (f, _) in _DURATIONS.items()},
    "channels_requiring_consent": "channels_requiring_consent",
    "channel_min_gap": "channel_min_gap_hours",
    "allowed_hours": "hours",
    "caps": "caps",
}


class _Bad(ValueError):
    """A [policy.X] value that cannot be read; carries the key to name."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


@dataclass(frozen=True)
class PolicyOverride:
    """A parsed [policy.X] section: tightenings applied to whichever profile it meets.

    `fields` are ContactPolicy fields with their final values. `hours` gives a window per
    weekday (None closes the day; a missing day keeps the profile's window); a window is only
    applied to a day the profile opens, unless the day is named. `caps` are added to the
    profile's caps. `settings` is the section as written.
    """

    settings: Mapping[str, Any] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    hours: Mapping[int, HoursWindow | None] = field(default_factory=dict)
    hours_all_days: HoursWindow | None = None
    caps: tuple[FrequencyCap, ...] = ()

    def apply(self, profile: ContactPolicy) -> ContactPolicy:
        """The profile tightened; raises LoosenedPolicyError when a value would loosen it."""
        overrides = dict(self.fields)
        if "channels_requiring_consent" in overrides:  # adds channels; the profile's stay
            overrides["channels_requiring_consent"] = (
                profile.channels_requiring_consent | overrides["channels_requiring_consent"]
            )
        if self.hours or self.hours_all_days is not None:
            overrides["allowed_hours"] = tuple(
                self._window(day, window) for day, window in enumerate(profile.allowed_hours)
            )
        if self.caps:
            overrides["caps"] = (*profile.caps, *self.caps)
        return tighten(profile, **overrides) if overrides else profile

    def _window(self, day: int, profile_window: HoursWindow | None) -> HoursWindow | None:
        """A named day's window; else the all-days window where the profile is open."""
        if day in self.hours:
            return self.hours[day]
        if self.hours_all_days is None or profile_window is None:
            return profile_window
        return self.hours_all_days


def parse_policy(name: str, section: Any, source: str) -> PolicyOverride:
    """Read one [policy.X] table and check it against every profile it can apply to."""
    if isinstance(section, PolicyOverride):
        return section
    where = f"{source}: [policy.{name}]"
    if not isinstance(section, Mapping):
        raise ConfigError(f"{where} must be a table of settings.")
    try:
        override = _read_policy(section)
    except _Bad as exc:
        raise ConfigError(f"{where} {exc.key}: {exc}.") from None
    for profile in _profiles_for(name):
        try:
            override.apply(profile)
        except LoosenedPolicyError as exc:
            key = _KEY_FOR_FIELD.get(exc.field, exc.field)
            raise ConfigError(f"{where} {key}: {exc} (profile {profile.name}).") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: {exc} (profile {profile.name}).") from None
    return override


def _profiles_for(section: str) -> tuple[ContactPolicy, ...]:
    """The profiles a section can meet: by jurisdiction or country; the fallback's for others."""
    named = jurisdiction_of(section)
    if named is not None:
        return jurisdiction_profiles(named)
    if section == NONE:  # journeys bound to no jurisdiction, debtors of any country
        return tuple(p for j in JURISDICTIONS.values() for p in jurisdiction_profiles(j))
    return jurisdiction_profiles(jurisdiction(FALLBACK))  # a country without its own profile


def _read_policy(section: Mapping[str, Any]) -> PolicyOverride:
    unknown = sorted(set(section) - set(POLICY_KEYS))
    if unknown:
        hint = ""
        if {"min_gap", "conversation_cooldown", "deferral_horizon"} & set(unknown):
            hint = " (durations are numbers: min_gap_hours, deferral_horizon_days, ...)"
        if "allowed_hours" in unknown:
            hint = ' (use hours = {start = "09:00", end = "19:00"})'
        raise _Bad(unknown[0], f"unknown key{hint}; known keys: {', '.join(POLICY_KEYS)}")
    fields: dict[str, Any] = {}
    for key, target in _FLAGS.items():
        if key in section:
            if not isinstance(section[key], bool):
                raise _Bad(key, "must be true or false")
            fields[target] = section[key]
    if "channels_requiring_consent" in section:
        channels = section["channels_requiring_consent"]
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise _Bad("channels_requiring_consent", 'must be a list of channels, e.g. ["sms"]')
        fields["channels_requiring_consent"] = frozenset(channels)
    for key, (target, unit) in _DURATIONS.items():
        if key in section:
            fields[target] = _duration(key, section[key], unit)
    if "channel_min_gap_hours" in section:
        gaps = section["channel_min_gap_hours"]
        if not isinstance(gaps, Mapping):
            raise _Bad("channel_min_gap_hours", "must be a table, e.g. {sms = 48}")
        fields["channel_min_gap"] = {
            str(channel): _duration(f"channel_min_gap_hours.{channel}", hours, "hours")
            for channel, hours in gaps.items()
        }
    hours, all_days = _read_hours(section["hours"]) if "hours" in section else ({}, None)
    caps = _read_caps(section["caps"]) if "caps" in section else ()
    return PolicyOverride(dict(section), fields, hours, all_days, caps)


def _duration(key: str, value: Any, unit: str) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _Bad(key, f"must be a number of {unit} (0 or more), not {value!r}")
    return timedelta(**{unit: value})


def _clock(key: str, value: Any) -> time:
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise _Bad(key, f'must be a time of day like "09:00", not {value!r}')
    return time(int(match[1]), int(match[2]))


def _window(key: str, value: Any) -> HoursWindow:
    if not isinstance(value, Mapping) or set(value) != {"start", "end"}:
        raise _Bad(key, 'must be {start = "09:00", end = "19:00"}')
    start, end = _clock(f"{key}.start", value["start"]), _clock(f"{key}.end", value["end"])
    if not start < end:
        raise _Bad(key, f"start {value['start']} must be before end {value['end']}")
    return HoursWindow(start, end)


def _read_hours(value: Any) -> tuple[dict[int, HoursWindow | None], HoursWindow | None]:
    """hours = {start, end} for every open day, and/or mon..sun = {start, end} or false."""
    if not isinstance(value, Mapping):
        raise _Bad("hours", 'must be a table, e.g. {start = "09:00", end = "19:00"}')
    unknown = sorted(set(value) - {"start", "end", *DAYS})
    if unknown:
        raise _Bad(f"hours.{unknown[0]}", f"unknown key; use start, end or {', '.join(DAYS)}")
    all_days = None
    if "start" in value or "end" in value:
        all_days = _window("hours", {k: value[k] for k in ("start", "end") if k in value})
    days: dict[int, HoursWindow | None] = {}
    for index, day in enumerate(DAYS):
        if day not in value:
            continue
        if value[day] is False:
            days[index] = None
        else:
            days[index] = _window(f"hours.{day}", value[day])
    return days, all_days


def _read_caps(value: Any) -> tuple[FrequencyCap, ...]:
    """caps = [{channel = "sms", max = 2, days = 7}, ...]; no channel: all channels."""
    if not isinstance(value, list):
        raise _Bad("caps", 'must be a list, e.g. [{channel = "sms", max = 2, days = 7}]')
    caps = []
    for index, cap in enumerate(value):
        key = f"caps[{index}]"
        if not isinstance(cap, Mapping):
            raise _Bad(key, 'must be a table, e.g. {channel = "sms", max = 2, days = 7}')
        unknown = sorted(set(cap) - {"channel", "max", "days", "hours"})
        if unknown:
            raise _Bad(f"{key}.{unknown[0]}", "unknown key; use channel, max, days or hours")
        channel = cap.get("channel")
        if channel is not None and not isinstance(channel, str):
            raise _Bad(f"{key}.channel", 'must be a channel name such as "sms"')
        count = cap.get("max")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _Bad(f"{key}.max", f"must be a whole number of at least 1, not {count!r}")
        if ("days" in cap) == ("hours" in cap):
            raise _Bad(key, "needs the window as either days or hours")
        unit = "days" if "days" in cap else "hours"
        window = _duration(f"{key}.{unit}", cap[unit], unit)
        if window <= timedelta(0):
            raise _Bad(f"{key}.{unit}", "must be more than 0")
        caps.append(FrequencyCap(None if channel in (None, "any") else channel, count, window))
    return tuple(caps)


@dataclass(frozen=True)
class DeliveryConfig:
    """Connector profile per channel, the company, and contact-policy tightenings."""

    profiles: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {c: {"provider": "sandbox"} for c in CHANNELS if c not in OPT_IN}
    )
    company: Company = field(default_factory=Company)
    # [policy.X] sections, parsed and checked; a plain dict given here is read the same way.
    policy_overrides: dict[str, PolicyOverride] = field(default_factory=dict)
    source: str = "embedded defaults (sandbox)"
    # [webhooks] allow_private: subscriptions may target private, loopback, link-local hosts.
    webhooks_allow_private: bool = False

    def __post_init__(self) -> None:
        """Read [policy.X] tables given as plain dicts (the TOML form), refusing bad ones."""
        parsed = {
            str(name): parse_policy(str(name), section, self.source)
            for name, section in self.policy_overrides.items()
        }
        object.__setattr__(self, "policy_overrides", parsed)

    def connectors(self) -> dict[str, Any]:
        """Build one connector per channel from its profile (a channel without one is off)."""
        return {
            channel: build_connector(channel, self.profiles[channel])
            for channel in CHANNELS
            if channel in self.profiles
        }


def load_delivery_config(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> DeliveryConfig:
    """Read the settings file (if any) and the secrets from the environment."""
    env = os.environ if environ is None else environ
    path = path or env.get("MAHNWERK_CONFIG")
    if path is None:
        default = Path(env.get("MAHNWERK_INSTANCE", "instance")) / "mahnwerk.toml"
        if not default.exists():
            return DeliveryConfig()
        path = default
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings file ({exc.strerror}).") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}.") from exc
    return _parse(data, str(path), env)


def _parse(data: dict[str, Any], source: str, env: Mapping[str, str]) -> DeliveryConfig:
    profiles_section = data.get("profiles", {})
    channels = data.get("channels", {})
    profiles: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        name = channels.get(channel, None if channel in OPT_IN else "sandbox")
        if name is None or name == "off":  # an opt-in channel nobody configured: disabled
            continue
        if name == "sandbox" and name not in profiles_section:
            profiles[channel] = {"provider": "sandbox"}
            continue
        if name not in profiles_section:
            raise ConfigError(
                f"{source}: [channels] {channel} names profile '{name}', "
                f"but there is no [profiles.{name}]."
            )
        profile = dict(profiles_section[name])
        for key in SECRET_KEYS:
            if key in profile:
                raise ConfigError(
                    f"{source}: [profiles.{name}] {key} must not be in the file; "
                    f"set MAHNWERK_PROFILE_{_env_name(name)}_{key.upper()}."
                )
            secret = env.get(f"MAHNWERK_PROFILE_{_env_name(name)}_{key.upper()}")
            if secret is not None:
                profile[key] = secret
        profile.pop("channel", None)
        profiles[channel] = profile
    company = data.get("company", {})
    unknown = set(company) - set(Company.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{source}: [company] has unknown keys: {', '.join(sorted(unknown))}.")
    policy = data.get("policy", {})
    if not isinstance(policy, Mapping):
        raise ConfigError(f"{source}: [policy] must hold tables such as [policy.DE].")
    webhooks = data.get("webhooks", {})
    if not isinstance(webhooks, Mapping):
        raise ConfigError(f"{source}: [webhooks] must be a table, e.g. allow_private = false.")
    unknown = set(webhooks) - {"allow_private"}
    if unknown:
        raise ConfigError(f"{source}: [webhooks] has unknown keys: {', '.join(sorted(unknown))}.")
    allow_private = webhooks.get("allow_private", False)
    if not isinstance(allow_private, bool):
        raise ConfigError(f"{source}: [webhooks] allow_private must be true or false.")
    return DeliveryConfig(
        profiles=profiles,
        company=Company(**company),
        policy_overrides=dict(policy),
        source=source,
        webhooks_allow_private=allow_private,
    )


def _env_name(profile: str) -> str:
    return profile.upper().replace("-", "_")
