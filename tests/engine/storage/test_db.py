"""The database wrapper: writers take SQLite's write lock at BEGIN, readers never wait for it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text

from engine import Database
from engine.storage.models import CaseRow


@pytest.fixture
def file_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.create_all()
    yield db
    db.dispose()


def test_a_reader_goes_on_while_a_writer_holds_the_lock(file_db: Database) -> None:
    """WAL readers need no lock: a page's read does not queue behind the tick's transaction."""
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with file_db.transaction() as session:  # BEGIN IMMEDIATE: the write lock until commit
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        with file_db.reading() as session:  # would wait up to busy_timeout if it locked
            assert session.scalar(select(CaseRow.id).limit(1)) is None
        # Another writer cannot start meanwhile: the lock is really held.
        other = sqlite3.connect(str(file_db.engine.url.database), timeout=0.05)
        other.isolation_level = None
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
    finally:
        release.set()
        thread.join(10)


def test_transactions_still_begin_immediate(file_db: Database) -> None:
    """A read-then-write transaction holds the write lock from its first statement."""
    with file_db.transaction() as session:
        session.execute(text("SELECT 1"))
        other = sqlite3.connect(str(file_db.engine.url.database), timeout=0.05)
        other.isolation_level = None
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
