"""What the guard knows about the debtor and the message being sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from engine.contact_policy.policy import HoursWindow


@dataclass(frozen=True, slots=True)
class ContactContext:
    """The debtor's locale, choices and holds, and the channel and purpose of this message."""

    time_zone: str  # IANA name, e.g. 'Europe/Berlin'
    country: str  # ISO 3166-1 alpha-2, e.g. 'DE', 'US', 'GB'
    channel: str  # 'email', 'sms', 'letter', 'call'
    purpose: str = "reminder"  # 'reminder', 'validation_notice', 'termination_notice', ...
    subdivision: str | None = None  # e.g. 'BY' (Bavaria), 'CA' (California)
    consents: Mapping[str, bool | None] = field(default_factory=dict)
    opted_out: frozenset[str] = frozenset()
    holds: frozenset[str] = frozenset()
    # Times the debtor asked to be contacted (UK-03, US-03), local wall-clock time.
    preferred_hours: HoursWindow | None = None


@dataclass(frozen=True, slots=True)
class SentRecord:
    """An earlier message to the same debtor, about this debt or another of theirs."""

    channel: str
    sent_at: datetime  # timezone-aware
    # True when a call reached the debtor and a conversation took place (US-02 cooldown).
    conversation: bool = False
    # False when the message was about another debt (case) of the same debtor: it counts for
    # the person-scoped caps and gaps, not for the debt-scoped ones.
    same_debt: bool = True
