"""Bulk events: chunks decide each item as one pass would, repeats included."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import Database, VirtualClock
from engine.intake.event_bulk import bulk_record_events
from engine.intake.host_cases import bulk_upsert
from engine.storage.models import CaseRow, EventRow
from tests.factories import example_doc, publish

CASE = {
    "debtor_name": "Erika Mustermann",
    "country": "DE",
    "currency": "EUR",
    "amount": "250.00",
    "due_date": "2026-03-02",
}
ITEMS: list[Any] = [
    {"case": "A", "event_id": "1", "type": "dispute_opened"},
    {"case": "B", "event_id": "2", "type": "payment_received", "payload": {"amount": "-5"}},
    {"case": "A", "event_id": "1", "type": "dispute_opened"},  # the next chunk: replayed
    {"case": "B", "event_id": "1", "type": "dispute_opened"},  # another case: a conflict
    {
        "case": "B",
        "event_id": "2",
        "type": "payment_failed",
        "payload": {"amount": "5", "currency": "EUR"},
    },
    {"case": "C", "event_id": "3", "type": "dispute_opened"},  # no such case
    7,
]


def _run(path: Path, clock: VirtualClock, chunk_size: int) -> tuple[Any, Any]:
    db = Database(f"sqlite:///{path}")
    db.create_all()
    with db.transaction() as session:
        publish(session, example_doc("minimal"), clock.now)
        bulk_upsert(session, [{**CASE, "external_id": x} for x in "AB"], None, clock.now)

    @contextmanager
    def transaction() -> Iterator[Session]:
        with db.transaction() as session:
            yield session

    results = bulk_record_events(transaction, ITEMS, clock.now, chunk_size=chunk_size)
    with db.transaction() as session:
        rows = session.execute(
            select(EventRow.event_id, EventRow.case_id, EventRow.type, EventRow.payload)
        ).all()
        due = session.execute(select(CaseRow.external_id, CaseRow.due_at)).all()
    db.dispose()
    return [(r.index, r.event_id, r.case, r.status, r.errors) for r in results], (rows, due)


def test_chunks_decide_as_one_pass(tmp_path: Path, clock: VirtualClock) -> None:
    chunked = _run(tmp_path / "chunked.sqlite3", clock, chunk_size=2)
    whole = _run(tmp_path / "whole.sqlite3", clock, chunk_size=1000)
    assert chunked == whole
    assert [status for _, _, _, status, _ in chunked[0]] == [
        "created",
        "invalid",
        "replayed",
        "invalid",
        "created",
        "invalid",
        "invalid",
    ]
