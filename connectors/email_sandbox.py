"""Sandbox email connector: validates like SMTP would, then keeps the message in memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from connectors.base import EmailMessage, SendResult, permanent
from connectors.email_mime import mime_bytes
from connectors.sandbox import Decider, SandboxStore
from connectors.settings import from_settings
from connectors.validation import check_email_message


class SandboxEmailConnector:
    """Stores what would have been sent; `sent` is what the designer shows."""

    channel: ClassVar[Literal["email"]] = "email"
    provider: ClassVar[str] = "sandbox"

    def __init__(
        self,
        store: SandboxStore[EmailMessage] | None = None,
        decide: Decider[EmailMessage] | None = None,
    ) -> None:
        self.store = store if store is not None else SandboxStore("email", decide)

    @property
    def sent(self) -> list[EmailMessage]:
        """Messages accepted so far, oldest first."""
        return self.store.sent

    def send(self, msg: EmailMessage) -> SendResult:
        """Reject what SMTP would reject, store the rest."""
        try:
            check_email_message(msg)
            mime_bytes(msg)  # same header checks as the real connector
        except ValueError as exc:
            return permanent(f"Email not sent: {exc}")
        return self.store.record(msg)


def from_profile(settings: Mapping[str, Any]) -> SandboxEmailConnector:
    """Registry factory; a shared `store` may be passed so the designer can read it."""
    return from_settings(SandboxEmailConnector, settings)
