"""Delivery settings: which connector profile serves each channel, and who the creditor is.

Read from a TOML file (MAHNWERK_CONFIG, default instance/mahnwerk.toml when it exists); secrets
come only from the environment as MAHNWERK_PROFILE_<PROFILE>_<KEY> (e.g.
MAHNWERK_PROFILE_SMTP_PASSWORD). Without a file every channel uses its sandbox.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import build_connector

CHANNELS = ("email", "sms", "letter")
SECRET_KEYS = ("password", "auth_token", "secret", "api_key", "token")


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


@dataclass(frozen=True)
class DeliveryConfig:
    """Connector profile per channel, the company, and contact-policy tightenings."""

    profiles: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {c: {"provider": "sandbox"} for c in CHANNELS}
    )
    company: Company = field(default_factory=Company)
    policy_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "embedded defaults (sandbox)"

    def connectors(self) -> dict[str, Any]:
        """Build one connector per channel from its profile."""
        return {channel: build_connector(channel, self.profiles[channel]) for channel in CHANNELS}


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
        name = channels.get(channel, "sandbox")
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
    return DeliveryConfig(
        profiles=profiles,
        company=Company(**company),
        policy_overrides=data.get("policy", {}),
        source=source,
    )


def _env_name(profile: str) -> str:
    return profile.upper().replace("-", "_")
