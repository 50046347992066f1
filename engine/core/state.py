"""The running state of one case as the runtime sees it: plain data, no SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.core.channels import CHANNELS


@dataclass(slots=True)  # many thousands per tick: slots make them smaller and quicker
class CaseState:
    """A case at one node of one pinned journey version."""

    id: int
    external_id: str
    version_id: int
    node_id: str
    status: str  # active | held | stopped | closed
    amount_open: Decimal
    amount_original: Decimal
    currency: str
    due_date: date
    country: str = "DE"
    subdivision: str | None = None
    timezone: str = "Europe/Berlin"
    locale: str = "de-DE"
    debtor_type: str = "consumer"
    email: str | None = None
    phone: str | None = None
    address: dict[str, str] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    arms: dict[str, str] = field(default_factory=dict)
    contact_prefs: dict[str, Any] = field(default_factory=dict)
    timer_at: datetime | None = None
    hold_reason: str | None = None
    outcome: str | None = None
    promise_date: date | None = None
    promise_amount: Decimal | None = None
    promise_baseline: Decimal | None = None
    messages_sent: int = 0
    payments_count: int = 0
    visits: int = 0  # node entries so far: makes each send's idempotency key unique
    # Replaced, never changed in place: the store finds changed columns by comparing values.
    counters: dict[str, int] = field(default_factory=dict)  # `count` steps: name -> count
    payment_history: dict[str, Any] = field(default_factory=dict)  # engine/intake/event_effects
    charges: dict[str, Any] = field(default_factory=dict)  # fees and interest: engine/money/balance
    # The hold's last day, when its event named one (`until`): released on that day in the
    # case's time zone (engine/intake/hold_until.py). None for a hold without one.
    hold_until: date | None = None

    @property
    def amount_paid(self) -> Decimal:
        """What the debtor has paid so far."""
        return self.amount_original - self.amount_open

    def days_overdue(self, today: date) -> int:
        """Whole days since the due date (negative before it)."""
        return (today - self.due_date).days

    @property
    def street(self) -> str | None:
        """The street line of the postal address, as a case row has it (None without one)."""
        return self.address.get("street") if self.address else None

    def has_channel(self, channel: str) -> bool:
        """Whether the case has an address for this channel (an unknown channel: no)."""
        found = CHANNELS.get(channel)
        return found is not None and found.reaches(self)

    def promise_kept(self) -> bool:
        """Whether payments since the promise cover the promised amount."""
        if self.promise_amount is None or self.promise_baseline is None:
            return False
        return self.promise_baseline - self.amount_open >= self.promise_amount
