"""The statement inbox: settled files are read once and moved to done/ or failed/."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Database, Settings, VirtualClock
from engine.ops.scheduler import build_scheduler
from engine.payments.inbox import process_inbox
from engine.storage.models import StatementImportRow

DATA = Path(__file__).parents[2] / "connectors" / "data"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def drop(folder: Path, name: str, data: bytes, clock: VirtualClock, age: float = 60) -> Path:
    path = folder / name
    path.write_bytes(data)
    moment = clock.now.timestamp() - age
    os.utime(path, (moment, moment))
    return path


def test_a_good_file_goes_to_done_and_a_bad_one_to_failed_with_its_reason(
    db: Database, clock: VirtualClock, inbox: Path
) -> None:
    drop(inbox, "dez.xml", (DATA / "camt053_v02.xml").read_bytes(), clock)
    drop(inbox, "bad.sta", b":20:X\n:25:A\n:60F:C261203EUR0,00\n:61:garbage\n", clock)

    results = process_inbox(db, inbox, clock.now)

    assert sorted((r.name, r.problem is None) for r in results) == [
        ("bad.sta", False),
        ("dez.xml", True),
    ]
    assert [p.name.split("-", 1)[1] for p in (inbox / "done").iterdir()] == ["dez.xml"]
    failed = sorted(p.name.split("-", 1)[1] for p in (inbox / "failed").iterdir())
    assert failed == ["bad.sta", "bad.sta.reason.txt"]
    reason = next((inbox / "failed").glob("*.reason.txt")).read_text()
    assert reason == "line 4: :61: 'garbage' is not a statement line\n"
    assert not any((inbox / "work").iterdir())
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []


def test_a_file_still_being_written_is_left_alone(
    db: Database, clock: VirtualClock, inbox: Path
) -> None:
    drop(inbox, "dez.xml", (DATA / "camt053_v02.xml").read_bytes(), clock, age=1)

    assert process_inbox(db, inbox, clock.now) == []
    clock.advance(timedelta(seconds=10))
    assert [r.name for r in process_inbox(db, inbox, clock.now)] == ["dez.xml"]


def test_the_same_file_dropped_twice_books_nothing_twice(
    db: Database, clock: VirtualClock, inbox: Path
) -> None:
    data = (DATA / "mt940.sta").read_bytes()
    drop(inbox, "a.sta", data, clock)
    first = process_inbox(db, inbox, clock.now)
    drop(inbox, "a.sta", data, clock)
    second = process_inbox(db, inbox, clock.now)

    assert (first[0].summary.new, second[0].summary.new) == (3, 0)
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StatementImportRow)) == 2


def test_the_worker_watches_the_inbox_only_when_one_is_set(db: Database, tmp_path: Path) -> None:
    without = {job.id for job in build_scheduler(db, Settings()).get_jobs()}
    with_inbox = build_scheduler(db, Settings(statement_inbox=str(tmp_path))).get_jobs()

    assert "statements" not in without
    assert "statements" in {job.id for job in with_inbox}
