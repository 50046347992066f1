"""One API writer at a time on a SQLite file: across threads, and across web worker processes.

SQLite allows one writer; a writer that finds the file locked waits in SQLite's busy handler,
which sleeps in coarse steps (1, 2, 5, 10 ms ...) and polls. Threads of one process queue on a
lock instead; the web workers of `mahnwerk serve --workers N` queue on an flock of a file
beside the database (`<database>-writer.lock`), which the kernel hands to the next waiter the
moment it is released. Writers outside the API (the scheduler's tick) still meet the API's in
busy_timeout, as before. Without fcntl (Windows) only the threads queue.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """A re-usable context manager: this process's thread lock, then the file lock."""

    def __init__(self, path: Path | None) -> None:
        self.thread_lock = threading.Lock()
        self.path = path if fcntl is not None else None
        self.fd: int | None = None

    def __enter__(self) -> WriterLock:
        self.thread_lock.acquire()
        try:
            if self.path is not None:
                if self.fd is None:
                    self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.thread_lock.release()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if self.fd is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.thread_lock.release()


_LOCKS: dict[str, WriterLock] = {}
_GUARD = threading.Lock()


def writer_lock_for(database_url: str) -> WriterLock:
    """The writer lock of a SQLite database (one per database file and process)."""
    with _GUARD:
        lock = _LOCKS.get(database_url)
        if lock is None:
            lock = _LOCKS[database_url] = WriterLock(_lock_file(database_url))
        return lock


def _lock_file(database_url: str) -> Path | None:
    """`<file>-writer.lock` beside a SQLite file; None for an in-memory database."""
    if not database_url.startswith("sqlite:///") or database_url.startswith("sqlite:///:memory:"):
        return None
    path = database_url.removeprefix("sqlite:///").partition("?")[0]
    return Path(path + "-writer.lock") if path else None
