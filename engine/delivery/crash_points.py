"""Named points where the tick's and dispatcher's fault tests end the process as SIGKILL would.

Nothing happens unless a test process calls `arm()`: `reached()` is then one None check. The
points are where a crash leaves different traces: after a claim is committed, after the
provider accepted a message and before its outcome is written, inside the transaction that
writes a group of outcomes, and after it was committed; in the tick, after a batch is claimed
(rows locked), after its writes (inside the transaction) and after its commit.
"""

from __future__ import annotations

import os
import threading

POINTS = (
    "claimed",
    "accepted",
    "recording",
    "recorded",
    "tick_claimed",
    "tick_written",
    "tick_committed",
)

_armed: tuple[str, int] | None = None
_count = 0
_lock = threading.Lock()


def arm(point: str, nth: int) -> None:
    """End this process with exit code 137, without cleanup, the nth time `point` is reached."""
    global _armed, _count
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}; known: {', '.join(POINTS)}")
    _armed, _count = (point, max(1, nth)), 0


def reached(point: str) -> None:
    """Crash here if a test armed this point and this is the nth time it is reached."""
    global _count
    if _armed is None or _armed[0] != point:
        return
    with _lock:
        _count += 1
        if _count >= _armed[1]:
            os._exit(137)  # like SIGKILL: no finally, no atexit, no flush
