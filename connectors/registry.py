"""Map (channel, provider) to a factory; built-ins load the same way as entry-point plugins."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from connectors.base import ConnectorConfigError

GROUP = "mahnwerk.connectors"
Factory = Callable[[Mapping[str, Any]], Any]

# Written exactly as a plugin's pyproject declares them:
#   [project.entry-points."mahnwerk.connectors"]
#   "sms.acme" = "acme_sms:from_profile"
BUILTINS: dict[str, str] = {
    "email.smtp": "connectors.email_smtp:from_profile",
    "email.sandbox": "connectors.email_sandbox:from_profile",
    "sms.twilio": "connectors.sms_http:twilio_from_profile",
    "sms.webhook": "connectors.sms_http:webhook_from_profile",
    "sms.sandbox": "connectors.sms_sandbox:from_profile",
    "whatsapp.cloud_api": "connectors.whatsapp_http:from_profile",
    "whatsapp.sandbox": "connectors.whatsapp_sandbox:from_profile",
    "letter.dropfolder": "connectors.letter_dropfolder:from_profile",
    "letter.sandbox": "connectors.letter_sandbox:from_profile",
    "payment.stripe": "connectors.payment_stripe:from_profile",
    "payment.mollie": "connectors.payment_mollie:from_profile",
    "payment.gocardless": "connectors.payment_gocardless:from_profile",
    "payment.sandbox": "connectors.payment_sandbox:from_profile",
}


class ConnectorRegistry:
    """Factories by (channel, provider); entry points are loaded only when first used."""

    def __init__(self) -> None:
        self._factories: dict[tuple[str, str], EntryPoint | Factory] = {}

    def add_entry_points(self, eps: Iterable[EntryPoint]) -> None:
        """Register entry points named "channel.provider"."""
        for ep in eps:
            self._add(_split(ep.name), ep)

    def register(self, channel: str, provider: str, factory: Factory) -> None:
        """Register a factory directly (tests, or an app wiring its own)."""
        self._add((channel, provider), factory)

    def providers(self, channel: str) -> list[str]:
        """Provider names available for a channel, sorted."""
        return sorted(p for c, p in self._factories if c == channel)

    def build(self, channel: str, profile_settings: Mapping[str, Any]) -> Any:
        """Build a connector from a profile: {"provider": name, **that provider's settings}."""
        settings = dict(profile_settings)
        provider = settings.pop("provider", None)
        if not provider:
            raise ConnectorConfigError(f"The {channel} profile does not name a provider")
        target = self._factories.get((channel, provider))
        if target is None:
            known = ", ".join(self.providers(channel)) or "none"
            raise ConnectorConfigError(
                f"No {channel} connector called {provider!r}; available: {known}"
            )
        factory = target.load() if isinstance(target, EntryPoint) else target
        connector = factory(settings)
        if getattr(connector, "channel", None) != channel:
            raise ConnectorConfigError(f"{channel}.{provider} built a non-{channel} connector")
        return connector

    def _add(self, key: tuple[str, str], target: EntryPoint | Factory) -> None:
        existing = self._factories.get(key)
        # The same plugin may be seen twice (e.g. installed and on sys.path); only a real
        # clash between two different factories is an error.
        if existing is not None and _ref(existing) != _ref(target):
            name = ".".join(key)
            raise ConnectorConfigError(
                f"Two connectors claim {name}: {_ref(existing)}, {_ref(target)}"
            )
        self._factories[key] = target


@functools.cache
def default_registry() -> ConnectorRegistry:
    """Built-ins plus every installed plugin in the mahnwerk.connectors group."""
    registry = ConnectorRegistry()
    registry.add_entry_points(EntryPoint(n, v, GROUP) for n, v in BUILTINS.items())
    registry.add_entry_points(entry_points(group=GROUP))
    return registry


def build_connector(channel: str, profile_settings: Mapping[str, Any]) -> Any:
    """Build the connector a settings profile describes, e.g. {"provider": "smtp", ...}."""
    return default_registry().build(channel, profile_settings)


def _split(name: str) -> tuple[str, str]:
    channel, dot, provider = name.partition(".")
    if not (channel and dot and provider):
        raise ConnectorConfigError(f"Entry point {name!r} must be named 'channel.provider'")
    return channel, provider


def _ref(target: EntryPoint | Factory) -> str:
    if isinstance(target, EntryPoint):
        return target.value
    return f"{target.__module__}:{target.__qualname__}"
