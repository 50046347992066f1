"""Database connection: SQLite by default, PostgreSQL through DATABASE_URL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from engine.core.clock import utcnow


class Database:
    """One engine and session factory for one database URL."""

    def __init__(self, url: str, **engine_kw: Any) -> None:
        self.url = url
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if url in ("sqlite://", "sqlite:///:memory:"):
            # One shared connection, or each checkout would see its own empty database.
            engine_kw.setdefault("poolclass", StaticPool)
            engine_kw.setdefault("connect_args", {"check_same_thread": False})
        engine_kw.setdefault("json_serializer", dumps)
        if not url.startswith("sqlite"):
            # A server connection can die while pooled (a failover, an idle timeout, a
            # terminated backend): test it at checkout and reconnect instead of failing the
            # next transaction. One round trip per transaction, not per statement.
            engine_kw.setdefault("pool_pre_ping", True)
        self.engine: Engine = create_engine(url, **engine_kw)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads only (a page): on SQLite a deferred BEGIN, which in WAL mode never waits for
        # the write lock, so readers go on beside a writer and beside each other.
        self._readers = self.engine.execution_options(**{_READ_ONLY: True})
        # Registers the flush hook that hashes every new audit row into its chain.
        import engine.storage.audit_chain  # noqa: F401

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only: on SQLite it does not take the write lock.

        Every transaction() takes SQLite's write lock at BEGIN (a read-then-write must not lose
        an update), which queues readers behind writers and each other; a page that only reads
        uses this instead. A write inside would take the lock late: keep writes in transaction().
        """
        with self.sessions(bind=self._readers) as session, session.begin():
            yield session

    def create_all(self) -> None:
        """Create the schema through the migrations (the one way the schema is made)."""
        from engine.storage.migrate import upgrade_to_head

        upgrade_to_head(self)

    def clock(self) -> datetime:
        """The database server's time (aware UTC): one clock for every worker that shares it.

        SQLite lives on this machine, so its clock is this machine's.
        """
        if self.is_sqlite:
            return utcnow()
        with self.engine.connect() as connection:
            moment = connection.exec_driver_sql("SELECT CURRENT_TIMESTAMP").scalar_one()
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


_READ_ONLY = "mahnwerk_read_only"


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock at BEGIN, so read-then-write transactions cannot lose an update.

    A `reading()` session begins deferred: it only reads, so it needs no lock at all in WAL.
    """
    read_only = connection.get_execution_options().get(_READ_ONLY)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _json_default(value: Any) -> Any:
    """Decimals and dates in JSON columns are kept as exact strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON for the database's JSON columns."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers (the designer) go on while a tick writes; foreign keys on."""
    # Take transaction control from pysqlite, which would BEGIN only before the first write:
    # a tick's claiming SELECT must be in the same transaction as its UPDATEs.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 64 MB of page cache (the default is 2 MB): a tick over a large portfolio keeps the
    # indexes it updates in memory (measured: +10 % case steps/s at 500,000 cases). It only
    # grows as pages are read, so a connection that reads little stays small.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def in_chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """Bounded IN lists (SQLite's variable limit, PostgreSQL's plan cache)."""
    return [values[start : start + size] for start in range(0, len(values), size)]
