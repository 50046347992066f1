"""Transactions for API writes: on SQLite, one writer at a time (api.writer_lock).

SQLite allows one writer; threads that collide wait in its busy handler, which sleeps in
coarse steps and turned a burst of events into seconds of p99 latency. A lock in front of
write transactions queues them instead, across threads and web worker processes. PostgreSQL
needs no such lock.

A request makes one write transaction: when a decorator (the Idempotency-Key check) has opened
one, the view's `write_transaction()` joins it as a savepoint instead of opening another.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from flask import g, has_request_context
from sqlalchemy.orm import Session

from api.writer_lock import writer_lock_for
from engine import Database
from mahnwerk_web.db import get_db

_SESSION = "api_write_session"


def writer_lock(db: Database) -> AbstractContextManager[object]:
    """The lock in front of API write transactions: SQLite's writer lock, none on PostgreSQL."""
    return writer_lock_for(db.url) if db.is_sqlite else nullcontext()


@contextmanager
def locked_transaction() -> Iterator[Session]:
    """A transaction of its own, behind the writer lock on SQLite (BEGIN IMMEDIATE writes)."""
    db = get_db()
    with writer_lock(db), db.transaction() as session:
        yield session


@contextmanager
def write_transaction() -> Iterator[Session]:
    """The request's write transaction: the one already open, or a new one for the request."""
    current: Session | None = g.get(_SESSION) if has_request_context() else None
    if current is not None:
        with current.begin_nested():
            yield current
        return
    with locked_transaction() as session:
        if has_request_context():
            g.setdefault(_SESSION, session)
        try:
            yield session
        finally:
            if has_request_context() and g.get(_SESSION) is session:
                g.pop(_SESSION)
