"""Sandbox SMS connector: the same checks and segment count as the HTTP ones, kept in memory."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, Literal

from connectors.base import InvalidAddressError, SendResult, SmsMessage, permanent
from connectors.sandbox import Decider, SandboxStore
from connectors.settings import as_decimal, from_settings
from connectors.sms_http import prepare


class SandboxSmsConnector:
    """Stores what would have been sent, with segments and cost as a real provider bills."""

    channel: ClassVar[Literal["sms"]] = "sms"
    provider: ClassVar[str] = "sandbox"

    def __init__(
        self,
        store: SandboxStore[SmsMessage] | None = None,
        decide: Decider[SmsMessage] | None = None,
        sender: str | None = None,
        default_region: str | None = "DE",
        price_per_segment: Decimal | str | None = None,
        max_segments: int = 10,
    ) -> None:
        self.store = store if store is not None else SandboxStore("sms", decide)
        self.sender = sender
        self.default_region = default_region
        self.price_per_segment = as_decimal("price_per_segment", price_per_segment)
        self.max_segments = max_segments

    @property
    def sent(self) -> list[SmsMessage]:
        """Messages accepted so far, oldest first."""
        return self.store.sent

    def send(self, msg: SmsMessage) -> SendResult:
        """Reject what a provider would reject, store the rest."""
        try:
            sms = prepare(msg, self.sender, self.default_region, self.max_segments)
        except InvalidAddressError as exc:
            return permanent(f"SMS not sent: {exc}")
        return self.store.record(
            msg, segments=sms.encoding.segments, cost=sms.encoding.cost(self.price_per_segment)
        )


def from_profile(settings: Mapping[str, Any]) -> SandboxSmsConnector:
    """Registry factory; a shared `store` may be passed so the designer can read it."""
    return from_settings(SandboxSmsConnector, settings)
