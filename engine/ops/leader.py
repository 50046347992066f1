"""Leader election for periodic jobs that must run on one worker only (PostgreSQL advisory lock).

Tick and dispatch are safe on every worker (rows are claimed with SKIP LOCKED); jobs that walk
a shared cursor, such as emitting webhooks from the audit trail, run only on the leader.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import text

from engine.storage.db import Database

LOCK_KEY = 0x4D41484E  # "MAHN"


class Leadership:
    """Holds the advisory lock on its own connection for as long as this process lives."""

    def __init__(self, db: Database, key: int = LOCK_KEY) -> None:
        self.db = db
        self.key = key
        self._connection: Any = None
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        """True when this process leads; SQLite has one process, which always leads."""
        if self.db.is_sqlite:
            return True
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.execute(text("SELECT 1"))
                    return True
                except Exception:  # the connection died, and the lock with it
                    self._connection = None
            connection = self.db.engine.connect()
            won = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            if won.scalar():
                connection.commit()
                self._connection = connection
                return True
            connection.close()
            return False

    def resign(self) -> None:
        """Give up the lock (on shutdown)."""
        with self._lock:
            if self._connection is not None:
                # Closing only returns the connection to the pool, where the session-level
                # lock would live on: unlock first.
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                    self._connection.commit()
                finally:
                    self._connection.close()
                    self._connection = None
