"""The configured payment providers, built by registry name ("payment.<name>") from settings.

Each provider's settings are a `[payments.<name>]` table in the settings file (MAHNWERK_CONFIG,
else instance/mahnwerk.toml); its secrets never stand in the file but come from the
environment as MAHNWERK_PAYMENT_<NAME>_<KEY> (e.g. MAHNWERK_PAYMENT_STRIPE_API_KEY). The
sandbox needs no settings: it keeps its payments in <instance>/payments-sandbox, signs its
webhooks with a key derived from the installation's secret key, and its hosted page is the
portal's /p/sandbox/checkout/<payment_id>. Journeys name a provider (`settings.payments`);
a provider is built once, on first use.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors import build_connector
from connectors.payment import PaymentProvider
from engine.core.settings import Settings, instance_folder, load_settings

SECRET_KEYS = ("api_key", "access_token", "secret", "webhook_secret", "password", "token")
DEFAULT_PROVIDER = "sandbox"


class UnknownProvider(LookupError):
    """No payment provider of this name is configured."""


class PaymentConfigError(ValueError):
    """The [payments.<name>] settings are wrong; the message names the file, table and key."""


class PaymentProviders:
    """Payment providers by name, each built from its settings on first use."""

    def __init__(self, profiles: Mapping[str, Mapping[str, Any]]) -> None:
        self.profiles = {name: dict(p) for name, p in profiles.items()}
        self._built: dict[str, PaymentProvider] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """The configured provider names, sorted."""
        return sorted(self.profiles)

    def get(self, name: str) -> PaymentProvider:
        """The provider of this name; UnknownProvider when none is configured."""
        if name not in self.profiles:
            known = ", ".join(self.names()) or "none"
            raise UnknownProvider(f"No payment provider called {name!r}; configured: {known}.")
        with self._lock:
            if name not in self._built:
                profile = {"provider": name, **self.profiles[name]}
                self._built[name] = build_connector("payment", profile)
            return self._built[name]

    def add(self, name: str, provider: PaymentProvider) -> None:
        """Use an already built provider under this name (tests; an app wiring its own)."""
        self.profiles.setdefault(name, {})
        self._built[name] = provider


def sandbox_profile(settings: Settings) -> dict[str, Any]:
    """The sandbox's default settings: a folder in the instance, a derived secret, the portal."""
    secret = settings.secret_key or "mahnwerk-sandbox-without-a-secret-key"
    derived = hmac.new(secret.encode(), b"payment.sandbox.webhooks", hashlib.sha256).hexdigest()
    return {
        "directory": str(instance_folder() / "payments-sandbox"),
        "webhook_secret": derived,
        "checkout_url": settings.portal_base_url.rstrip("/") + "/sandbox/checkout",
    }


def load_payment_providers(
    settings: Settings | None = None,
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> PaymentProviders:
    """The sandbox plus every [payments.<name>] table of the settings file, secrets from env."""
    settings = settings or load_settings()
    env = os.environ if environ is None else environ
    profiles: dict[str, dict[str, Any]] = {DEFAULT_PROVIDER: sandbox_profile(settings)}
    data, source = _read_file(path, env)
    tables = data.get("payments", {})
    if not isinstance(tables, Mapping):
        raise PaymentConfigError(
            f"{source}: [payments] must hold tables such as [payments.stripe]."
        )
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            raise PaymentConfigError(f"{source}: [payments.{name}] must be a table.")
        profile = dict(profiles.get(name, {}))
        for key, value in table.items():
            if key in SECRET_KEYS:
                raise PaymentConfigError(
                    f"{source}: [payments.{name}] {key} must not be in the file; "
                    f"set {env_name(name, key)}."
                )
            profile[key] = value
        profiles[name] = profile
    for name, profile in profiles.items():
        for key in SECRET_KEYS:
            secret = env.get(env_name(name, key))
            if secret is not None:
                profile[key] = secret
    return PaymentProviders(profiles)


def env_name(provider: str, key: str) -> str:
    """The environment variable holding one secret of a provider."""
    return f"MAHNWERK_PAYMENT_{provider.upper().replace('-', '_')}_{key.upper()}"


def _read_file(path: str | Path | None, env: Mapping[str, str]) -> tuple[dict[str, Any], str]:
    path = path or env.get("MAHNWERK_CONFIG")
    if path is None:
        default = Path(env.get("MAHNWERK_INSTANCE", "instance")) / "mahnwerk.toml"
        if not default.exists():
            return {}, "embedded defaults"
        path = default
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8")), str(path)
    except OSError as exc:
        raise PaymentConfigError(
            f"{path}: cannot read the settings file ({exc.strerror})."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PaymentConfigError(f"{path}: not valid TOML: {exc}.") from exc
