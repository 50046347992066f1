"""Sandbox WhatsApp connector: the same checks as the Cloud API one, kept in memory."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar, Literal

from connectors.base import InvalidAddressError, SendResult, WhatsAppMessage, permanent
from connectors.sandbox import Decider, SandboxStore
from connectors.settings import from_settings
from connectors.whatsapp_http import prepare


class SandboxWhatsAppConnector:
    """Stores what would have been sent; refuses what the Cloud API would refuse."""

    channel: ClassVar[Literal["whatsapp"]] = "whatsapp"
    provider: ClassVar[str] = "sandbox"

    def __init__(
        self,
        store: SandboxStore[WhatsAppMessage] | None = None,
        decide: Decider[WhatsAppMessage] | None = None,
        default_region: str | None = "DE",
        template_name: str | None = None,
    ) -> None:
        self.store = store if store is not None else SandboxStore("whatsapp", decide)
        self.default_region = default_region
        self.template_name = template_name

    @property
    def sent(self) -> list[WhatsAppMessage]:
        """Messages accepted so far, oldest first."""
        return self.store.sent

    def send(self, msg: WhatsAppMessage) -> SendResult:
        """Reject what the provider would reject, store the rest."""
        if not msg.template_name:  # no approved template named: the sandbox stands one in
            msg = replace(msg, template_name=self.template_name or "mahnwerk_notice")
        try:
            prepare(msg, self.default_region)
        except InvalidAddressError as exc:
            return permanent(f"WhatsApp not sent: invalid {exc}")
        return self.store.record(msg, segments=1)


def from_profile(settings: Mapping[str, Any]) -> SandboxWhatsAppConnector:
    """Registry factory; a shared `store` may be passed so the designer can read it."""
    return from_settings(SandboxWhatsAppConnector, settings)
