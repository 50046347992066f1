"""Shared in-memory store behind every sandbox connector: keeps what would have been sent."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Generic, Protocol, TypeVar

from connectors.base import SendResult


class _Keyed(Protocol):
    @property
    def idempotency_key(self) -> str: ...


M = TypeVar("M", bound=_Keyed)
Decider = Callable[[M], "SendResult | None"]


class SandboxStore(Generic[M]):
    """A list of accepted messages, deduplicated by idempotency key like a real provider."""

    def __init__(self, channel: str, decide: Decider[M] | None = None) -> None:
        self.channel = channel
        self.sent: list[M] = []
        # Indexed by key because simulations push hundreds of thousands of messages through.
        self._by_key: dict[str, M] = {}
        # Tests and simulations plug in a decider to play out provider failures.
        self._decide = decide

    def record(
        self, msg: M, segments: int | None = None, cost: Decimal | None = None
    ) -> SendResult:
        """Store msg once and accept it, unless the decider says otherwise."""
        if self._decide is not None:
            verdict = self._decide(msg)
            if verdict is not None and not verdict.ok:
                return verdict
        message_id = f"sandbox-{self.channel}-{msg.idempotency_key}"
        if msg.idempotency_key not in self._by_key:
            self._by_key[msg.idempotency_key] = msg
            self.sent.append(msg)
        return SendResult(
            status="accepted", provider_message_id=message_id, segments=segments, cost=cost
        )

    def find(self, idempotency_key: str) -> M | None:
        """Return the stored message with this key, if any."""
        return self._by_key.get(idempotency_key)

    def clear(self) -> None:
        """Forget everything, e.g. between simulation runs."""
        self.sent.clear()
        self._by_key.clear()
