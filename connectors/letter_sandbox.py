"""Sandbox letter connector: checks addresses and the GiroCode, optionally keeps the PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from connectors.base import InvalidAddressError, LetterMessage, SendResult, permanent
from connectors.girocode import epc_payload
from connectors.letter_pdf import render_letter
from connectors.sandbox import Decider, SandboxStore
from connectors.settings import from_settings
from connectors.validation import check_postal_address


class SandboxLetterConnector:
    """Stores letters in memory; with render_pdf=True also their PDFs, for a preview."""

    channel: ClassVar[Literal["letter"]] = "letter"
    provider: ClassVar[str] = "sandbox"

    def __init__(
        self,
        store: SandboxStore[LetterMessage] | None = None,
        decide: Decider[LetterMessage] | None = None,
        render_pdf: bool = False,
    ) -> None:
        self.store = store if store is not None else SandboxStore("letter", decide)
        # Rendering costs about a second per letter, too slow for big simulations by default.
        self.render_pdf = render_pdf
        self.pdfs: dict[str, bytes] = {}

    @property
    def sent(self) -> list[LetterMessage]:
        """Letters accepted so far, oldest first."""
        return self.store.sent

    def send(self, msg: LetterMessage) -> SendResult:
        """Reject what the print path would reject, store the rest."""
        try:
            check_postal_address("recipient", msg.recipient)
            check_postal_address("sender", msg.sender)
            if msg.giro is not None:
                epc_payload(msg.giro)
            pdf = render_letter(msg).pdf if self.render_pdf else None
        except InvalidAddressError as exc:
            return permanent(f"Letter not sent: {exc}")
        result = self.store.record(msg)
        if pdf is not None and result.ok:
            self.pdfs.setdefault(msg.idempotency_key, pdf)
        return result


def from_profile(settings: Mapping[str, Any]) -> SandboxLetterConnector:
    """Registry factory; a shared `store` may be passed so the designer can read it."""
    return from_settings(SandboxLetterConnector, settings)
