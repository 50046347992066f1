"""The API's event intake: concurrent events share one transaction, each in its own savepoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from api.writer_lock import WriterLock
from engine import Database, open_case
from engine.intake.event_intake import Answer, EventIntake, NewEvent
from engine.storage.models import EventRow
from tests.factories import case_data, example_doc, publish

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STAMP = NOW.replace(tzinfo=None)


@pytest.fixture
def file_db(tmp_path: Path) -> Iterator[Database]:
    """A pooled SQLite file (the intake's case) with one open case, INV-1."""
    db = Database(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    db.create_all()
    with db.transaction() as session:
        version = publish(session, example_doc("minimal"), NOW)
        open_case(session, case_data(external_id="INV-1"), version, NOW)
    yield db
    db.dispose()


def _event(event_id: str, case: str = "INV-1") -> NewEvent:
    payload = {"amount": "1.00", "currency": "EUR"}
    return NewEvent(case, event_id, "payment_received", payload, STAMP, STAMP)


def _commits(db: Database) -> list[str]:
    """Every COMMIT SQLite runs for this database from now on."""
    seen: list[str] = []

    def trace(dbapi_connection: object, *_: object) -> None:
        dbapi_connection.set_trace_callback(  # type: ignore[attr-defined]
            lambda sql: seen.append(sql) if sql.startswith("COMMIT") else None
        )

    event.listen(db.engine, "checkout", trace)
    return seen


def test_events_queued_behind_the_writer_are_written_in_one_commit(file_db: Database) -> None:
    lock = WriterLock(None)
    intake = EventIntake(file_db, lambda: lock)
    commits = _commits(file_db)
    answers: dict[str, Answer | None] = {}

    def post(event_id: str, case: str = "INV-1") -> None:
        answers[event_id] = intake.accept(_event(event_id, case), lambda case: case.currency)

    threads = [threading.Thread(target=post, args=(f"e{i}",)) for i in range(8)]
    threads.append(threading.Thread(target=post, args=("lost", "NO-SUCH-CASE")))
    with lock:  # another writer holds the file: every request queues behind it
        for thread in threads:
            thread.start()
        while len(intake._queue) < len(threads):
            time.sleep(0.001)
    for thread in threads:
        thread.join()

    assert {k: v and (v.status_code, v.body) for k, v in answers.items()} == {
        **{f"e{i}": (202, "EUR") for i in range(8)},
        "lost": None,  # unknown case: the full path answers it, the others are not touched
    }
    assert len(commits) == 1
    with file_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 8


def test_a_failing_event_is_undone_alone(file_db: Database) -> None:
    intake = EventIntake(file_db, lambda: WriterLock(None))

    def broken(currency: str) -> str:
        raise RuntimeError("cannot build the answer")

    assert intake.accept(_event("bad"), broken) is None
    assert intake.accept(_event("good"), lambda currency: "ok") == Answer(202, "ok")
    with file_db.transaction() as session:
        ids = set(session.scalars(select(EventRow.event_id)))
    assert ids == {"good"}
