"""Transactions for API writes: on SQLite, one writer at a time inside this process.

SQLite allows one writer; threads that collide wait in its busy handler, which sleeps in
coarse steps and turned a burst of events into seconds of p99 latency. A lock in front of
write transactions queues them in Python instead. PostgreSQL needs no such lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy.orm import Session

from designer.db import get_db

_WRITER = threading.Lock()


@contextmanager
def write_transaction() -> Iterator[Session]:
    """A transaction for a request that writes."""
    db = get_db()
    with _WRITER if db.is_sqlite else nullcontext(), db.transaction() as session:
        yield session
