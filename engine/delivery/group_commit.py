"""Group commit: many sending threads hand in outcomes, each waits until its own is written."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Ticket(Generic[T]):
    item: T
    done: bool = False
    error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Writes items in small groups; `put()` returns once the caller's item is written.

    The first thread to arrive while no group is being written writes everything queued so far,
    its own item included, in one `write` call; threads arriving meanwhile wait and are written
    with the next group. A thread thus goes on only after its item is durable: with N threads,
    at most N items are ever handed in and not yet written. If `write` raises, every thread of
    that group gets the error.
    """

    def __init__(self, write: Callable[[list[T]], None]) -> None:
        self._write = write
        self._changed = threading.Condition()
        self._queue: list[_Ticket[T]] = []
        self._writing = False

    def put(self, item: T) -> None:
        """Queue `item` and return once it is written; raise the writer's error if that failed."""
        ticket = _Ticket(item)
        with self._changed:
            self._queue.append(ticket)
            while self._writing and not ticket.done:
                self._changed.wait()
            if ticket.done:
                if ticket.error is not None:
                    raise ticket.error
                return
            group, self._queue = self._queue, []
            self._writing = True
        error: BaseException | None = None
        try:
            self._write([t.item for t in group])
        except BaseException as exc:
            error = exc
            raise
        finally:
            with self._changed:
                for waiting in group:
                    waiting.done, waiting.error = True, error
                self._writing = False
                self._changed.notify_all()
