"""The task drain: a call task asks the contact-policy guard like a send, and is made once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import Database, Runtime, record_event
from engine.delivery.sandbox import SandboxDispatcher
from engine.storage.models import OutboxRow, TaskRow
from tests.engine.nodes.test_task import call_doc, start

NIGHT = datetime(2026, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Berlin: no calls
DAY = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
def db() -> Database:
    database = Database("sqlite:///:memory:")
    database.create_all()
    return database


def calls(db: Database) -> tuple[list[TaskRow], list[OutboxRow]]:
    with db.transaction() as session:
        made = list(session.scalars(select(TaskRow)))
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.channel == "call")))
        session.expunge_all()
        return made, rows


def test_a_call_at_night_waits_for_the_debtors_morning(db: Database) -> None:
    start(db)
    Runtime(db).tick(NIGHT)
    report = SandboxDispatcher(db, workers=1).dispatch(NIGHT)
    made, rows = calls(db)
    assert (made, report.deferred, report.tasks) == ([], 1, 0)
    assert rows[0].status == "pending" and rows[0].reason.startswith("deferred:")
    morning = rows[0].not_before.replace(tzinfo=UTC)
    assert morning > NIGHT
    assert SandboxDispatcher(db, workers=1).dispatch(morning).tasks == 1
    made, rows = calls(db)
    assert len(made) == 1 and rows[0].status == "sent" and rows[0].recipient == "+4915112345678"


def test_a_dispute_hold_makes_no_call_task(db: Database) -> None:
    ext = start(db)
    Runtime(db).tick(DAY)  # the case enters the task step; the drain has not run yet
    with db.transaction() as session:
        record_event(session, ext, "d-1", "dispute_opened", {}, DAY)
    Runtime(db).tick(DAY + timedelta(minutes=1))
    report = SandboxDispatcher(db, workers=1).dispatch(DAY + timedelta(minutes=1))
    made, rows = calls(db)
    assert made == []
    assert report.tasks == 0 and report.deferred + report.suppressed == 1
    assert "dispute" in (rows[0].reason or "")


def test_a_case_without_a_phone_gets_no_call_task(db: Database) -> None:
    with db.transaction() as session:
        from tests.factories import make_case, publish

        version = publish(session, call_doc(), DAY)
        make_case(session, version, DAY)
    Runtime(db).tick(DAY)
    report = SandboxDispatcher(db, workers=1).dispatch(DAY)
    made, rows = calls(db)
    assert made == [] and report.suppressed == 1 and rows[0].reason == "no_address:call"


def test_a_check_task_is_no_contact_and_is_made_at_night(db: Database) -> None:
    doc = call_doc(kind="check", instructions="Check the file of {{ reference }}.")
    doc["edges"] = [e for e in doc["edges"] if e["port"] not in ("promise_taken", "not_reached")]
    doc["nodes"] = [n for n in doc["nodes"] if n["id"] not in ("watch", "paid")]
    doc["edges"] = [e for e in doc["edges"] if "watch" not in (e["from"], e["to"])]
    start(db, doc)
    Runtime(db).tick(NIGHT)
    assert SandboxDispatcher(db, workers=1).dispatch(NIGHT).tasks == 1
    with db.transaction() as session:
        task = session.scalars(select(TaskRow)).one()
        assert task.kind == "check" and task.instructions.startswith("Check the file of INV-")


def test_a_made_call_is_in_the_guards_contact_history(db: Database) -> None:
    ext = start(db)
    Runtime(db).tick(DAY)
    dispatcher = SandboxDispatcher(db, workers=1)
    dispatcher.dispatch(DAY)
    with db.transaction() as session:
        sent = session.scalars(select(OutboxRow).where(OutboxRow.status == "sent")).all()
        assert [r.channel for r in sent] == ["call"] and sent[0].sent_at is not None
        from tests.factories import case_row

        case = case_row(session, ext)
        other = OutboxRow(id=-1, case_id=case.id)  # a message being decided for the same case
        history = dispatcher._history(session, [(other, case)], DAY + timedelta(hours=1))
        assert [r.channel for r in history[("c", case.id)].records_for(case.id)] == ["call"]


def test_the_drain_twice_makes_one_task(db: Database) -> None:
    start(db)
    Runtime(db).tick(DAY)
    first = SandboxDispatcher(db, workers=1).dispatch(DAY)
    second = SandboxDispatcher(db, workers=1).dispatch(DAY + timedelta(seconds=1))
    assert (first.tasks, second.tasks) == (1, 0)
    assert len(calls(db)[0]) == 1


def test_a_crash_before_the_drain_commits_leaves_no_task_and_the_next_run_makes_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.delivery import tasks as drain

    start(db)
    Runtime(db).tick(DAY)
    real = drain._audit

    def crash(*args: object, **kw: object) -> None:
        raise RuntimeError("power cut after the task row was inserted")

    monkeypatch.setattr(drain, "_audit", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        SandboxDispatcher(db, workers=1).dispatch(DAY)
    made, rows = calls(db)
    assert made == [] and rows[0].status == "pending"  # rolled back together
    monkeypatch.setattr(drain, "_audit", real)
    assert SandboxDispatcher(db, workers=1).dispatch(DAY).tasks == 1
    assert len(calls(db)[0]) == 1


def test_a_call_waits_for_the_steps_allowed_weekdays_and_hours(db: Database) -> None:
    """Issue 18 item 2: the calendar applies to tasks where the journey says so."""
    doc = call_doc(allowed_weekdays=["mon", "tue", "wed", "thu"], allowed_from="09:00")
    start(db, doc)
    friday = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)  # 11:00 in Berlin, but a Friday
    Runtime(db).tick(friday)
    assert SandboxDispatcher(db, workers=1).dispatch(friday).tasks == 0
    made, rows = calls(db)
    opens = rows[0].not_before.replace(tzinfo=UTC)
    assert made == [] and opens == datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # Monday 09:00 CET
    assert SandboxDispatcher(db, workers=1).dispatch(opens).tasks == 1
