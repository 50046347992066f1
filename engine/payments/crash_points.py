"""Named points where the payment path's crash tests stop it, as a kill or an exception would.

Nothing happens unless a test calls `arm()`: `reached()` is then one None check. The points are
where a crash leaves different traces: the intent is written but the provider not yet asked;
the provider made the checkout but its answer is not written; a webhook is stored but not yet
processed; the case event is written but its transaction not yet committed.
"""

from __future__ import annotations

import os
import threading

POINTS = ("intent_written", "checkout_created", "event_stored", "event_recording")
# Reached only by a payment for several cases (allocations.py): after each case's share is
# written, inside the transaction that books them all.
ALLOCATION_POINTS = ("allocation_recording",)

_armed: tuple[str, int, str] | None = None
_count = 0
_lock = threading.Lock()


class SimulatedCrash(RuntimeError):
    """Raised at an armed point in "raise" mode: the open transaction rolls back, like a kill."""


def arm(point: str, nth: int = 1, mode: str = "raise") -> None:
    """Crash the nth time `point` is reached: raise SimulatedCrash, or ("exit") os._exit(137)."""
    global _armed, _count
    if point not in (*POINTS, *ALLOCATION_POINTS):
        known = ", ".join((*POINTS, *ALLOCATION_POINTS))
        raise ValueError(f"unknown crash point {point!r}; known: {known}")
    if mode not in ("raise", "exit"):
        raise ValueError("mode must be 'raise' or 'exit'")
    _armed, _count = (point, max(1, nth), mode), 0


def disarm() -> None:
    """Crash nowhere."""
    global _armed
    _armed = None


def reached(point: str) -> None:
    """Crash here if a test armed this point and this is the nth time it is reached."""
    global _count
    if _armed is None or _armed[0] != point:
        return
    with _lock:
        _count += 1
        if _count < _armed[1]:
            return
        mode = _armed[2]
        disarm()
    if mode == "exit":
        os._exit(137)  # like SIGKILL: no finally, no atexit, no flush
    raise SimulatedCrash(f"crash at {point}")
