"""The contact policy: when, how often and under which holds a debtor may be contacted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from types import MappingProxyType
from typing import Literal

HoldAction = Literal["suppress", "defer"]
# What a cap or the conversation cooldown counts: every message to the person (all of a
# debtor's cases) or only the messages about this debt (this case).
Scope = Literal["person", "debt"]
SCOPES = ("person", "debt")

# A letter is posted and arrives days later, so its sending moment is neither bound by contact
# hours nor a contact moment for the minimum gap. Every other channel (including any unknown
# one, so a typo fails closed) reaches the debtor the moment it is sent.
POSTED_CHANNELS = frozenset({"letter"})


@dataclass(frozen=True, slots=True)
class HoursWindow:
    """A daily window of local wall-clock time, start inclusive, end exclusive."""

    start: time
    end: time

    def __post_init__(self) -> None:
        """Refuse values that make no sense."""
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("HoursWindow takes naive local times")
        if not self.start < self.end:
            raise ValueError(f"HoursWindow start {self.start} must be before end {self.end}")

    def contains(self, window: HoursWindow) -> bool:
        """Tell whether `window` lies entirely inside this window."""
        return self.start <= window.start and window.end <= self.end

    def intersect(self, other: HoursWindow | None) -> HoursWindow | None:
        """Return the overlap with `other` (None = no restriction), or None when empty."""
        if other is None:
            return self
        start, end = max(self.start, other.start), min(self.end, other.end)
        return HoursWindow(start, end) if start < end else None

    def __str__(self) -> str:
        """Render as '08:00-20:00'."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


WeeklyHours = tuple[HoursWindow | None, ...]


def weekly(start: time, end: time, days: Iterable[int] = range(7)) -> WeeklyHours:
    """Build per-weekday hours (0 = Monday) with one window on `days` and none elsewhere."""
    window = HoursWindow(start, end)
    open_days = set(days)
    return tuple(window if day in open_days else None for day in range(7))


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    """At most `max_count` messages on `channel` (None = all channels) in a rolling window.

    `scope` says what is counted: "person" every message to the debtor, whichever of their
    cases sent it; "debt" only the messages about this case (Reg F's 7-in-7, US-02).
    """

    channel: str | None
    max_count: int
    window: timedelta
    scope: Scope = "person"

    def __post_init__(self) -> None:
        """Refuse values that make no sense."""
        if self.scope not in SCOPES:
            raise ValueError(f"FrequencyCap.scope must be 'person' or 'debt', not {self.scope!r}")
        if self.max_count < 1:
            raise ValueError("FrequencyCap.max_count must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError("FrequencyCap.window must be positive")

    @property
    def code(self) -> str:
        """Stable reason code, e.g. 'frequency_cap:sms:7/7d'."""
        return f"frequency_cap:{self.channel or 'any'}:{self.max_count}/{_span(self.window)}"


@dataclass(frozen=True, slots=True)
class HoldRule:
    """What an active hold does to a send, and which message purposes still pass it."""

    action: HoldAction = "suppress"
    allowed_during_hold: frozenset[str] = frozenset()
    # A deferred hold is looked at again after this long; the hold itself has no known end.
    recheck: timedelta = timedelta(days=1)

    def __post_init__(self) -> None:
        """Refuse values that make no sense."""
        if self.action not in ("suppress", "defer"):
            raise ValueError(f"HoldRule.action must be 'suppress' or 'defer', not {self.action!r}")
        if self.recheck <= timedelta(0):
            raise ValueError("HoldRule.recheck must be positive")


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    """One country's (or company's) contact rules; see docs/contact-policy.md."""

    name: str
    # Indexed by date.weekday(): 0 = Monday .. 6 = Sunday; None closes the day.
    allowed_hours: WeeklyHours
    no_sundays: bool = True
    no_public_holidays: bool = True
    caps: tuple[FrequencyCap, ...] = ()
    min_gap: timedelta = timedelta(0)
    channel_min_gap: Mapping[str, timedelta] = field(default_factory=dict)
    # A telephone conversation starts a cooldown for further calls (Reg F, US-02), about the
    # debt talked about ("debt") or any debt of the person ("person").
    conversation_cooldown: timedelta = timedelta(0)
    conversation_scope: Scope = "debt"
    channels_requiring_consent: frozenset[str] = frozenset()
    holds: Mapping[str, HoldRule] = field(default_factory=dict)
    deferral_horizon: timedelta = timedelta(days=14)
    posted_channels: frozenset[str] = POSTED_CHANNELS

    def __post_init__(self) -> None:
        """Refuse values that make no sense."""
        if len(self.allowed_hours) != 7:
            raise ValueError("ContactPolicy.allowed_hours needs one entry per weekday (7)")
        for name in ("min_gap", "conversation_cooldown", "deferral_horizon"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"ContactPolicy.{name} must not be negative")
        if self.conversation_scope not in SCOPES:
            raise ValueError("ContactPolicy.conversation_scope must be 'person' or 'debt'")
        if any(gap < timedelta(0) for gap in self.channel_min_gap.values()):
            raise ValueError("ContactPolicy.channel_min_gap values must not be negative")
        # Read-only views keep a shared profile from being changed through a reference.
        object.__setattr__(self, "channel_min_gap", MappingProxyType(dict(self.channel_min_gap)))
        object.__setattr__(self, "holds", MappingProxyType(dict(self.holds)))
        object.__setattr__(self, "caps", tuple(self.caps))
        object.__setattr__(self, "allowed_hours", tuple(self.allowed_hours))
        consent = frozenset(self.channels_requiring_consent)
        object.__setattr__(self, "channels_requiring_consent", consent)
        object.__setattr__(self, "posted_channels", frozenset(self.posted_channels))


def _span(window: timedelta) -> str:
    """Render a window compactly for reason codes: '7d', '36h', '90m' or '45s'."""
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
