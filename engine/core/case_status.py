"""A case's status and when the tick should look at it next: plain facts, no SQL.

A case is *open* while it is active or held: the tick may still advance it (held cases only
when an event arrived for them), and events for it make it due. Stopped and closed cases are
done: nothing makes them due again.
"""

from __future__ import annotations

from datetime import datetime

from engine.core.clock import naive_utc

OPEN_STATUSES = ("active", "held")
DONE_STATUSES = ("stopped", "closed")
STATUSES = (*OPEN_STATUSES, *DONE_STATUSES)


def is_open(status: str) -> bool:
    """Whether a case in this status may still be advanced by the tick."""
    return status in OPEN_STATUSES


def due_now(now: datetime) -> datetime:
    """The due_at that marks a case due at once: `now`, as the database keeps it."""
    return naive_utc(now)


def next_due_at(
    status: str, timer_at: datetime | None, due_now_at: datetime, events_waiting: bool
) -> datetime | None:
    """When the tick should look at a case again after advancing it, or never (None).

    At once (`due_now_at`, made once per batch by `due_now`) when events are still waiting for
    it; an active case at its timer; a held, stopped or closed case only when something (an
    event) marks it due.
    """
    if events_waiting:
        return due_now_at
    if status == "active":
        return timer_at
    return None
