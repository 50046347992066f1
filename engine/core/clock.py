"""Injectable clocks: every engine entry point takes `now`; these supply it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    """The wall clock as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def naive_utc(moment: datetime) -> datetime:
    """Return `moment` as naive UTC, the form stored in the database."""
    return as_utc(moment).replace(tzinfo=None)


class VirtualClock:
    """A clock that only moves when told to, for simulation and tests."""

    def __init__(self, start: datetime) -> None:
        self.now = as_utc(start)

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward and return the new time."""
        self.now += delta
        return self.now

    def __call__(self) -> datetime:
        return self.now
