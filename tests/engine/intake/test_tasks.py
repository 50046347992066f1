"""Claiming tasks: one conditional UPDATE, so two agents at once get one claim."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import Database
from engine.intake.tasks import (
    TaskConflict,
    claim_task,
    get_task,
    list_tasks,
    task_queues,
    unclaim_task,
)
from tests.engine.nodes.test_task import run, start, tasks

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def test_two_agents_claiming_at_once_get_one_claim(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'race.db'}")
    db.create_all()
    start(db)
    run(db, NOW)
    task_id = tasks(db)[0].id
    barrier = threading.Barrier(2)
    won: list[str] = []
    lost: list[str] = []

    def agent(name: str) -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                claim_task(session, task_id, name, NOW)
            won.append(name)
        except TaskConflict:
            lost.append(name)

    threads = [threading.Thread(target=agent, args=(n,)) for n in ("ann", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 1
    with db.transaction() as session:
        assert get_task(session, task_id, NOW).claimed_by == won[0]
    db.dispose()


@pytest.fixture
def db() -> Database:
    database = Database("sqlite:///:memory:")
    database.create_all()
    return database


def test_the_inbox_filters_by_queue_overdue_and_mine(db: Database) -> None:
    start(db)
    run(db, NOW)
    task_id = tasks(db)[0].id
    with db.transaction() as session:
        assert task_queues(session) == ["collections"]
        assert [t.id for t in list_tasks(session, NOW, queue="collections")] == [task_id]
        assert list_tasks(session, NOW, queue="other") == []
        assert list_tasks(session, NOW, overdue=True) == []
        assert list_tasks(session, NOW, mine="ann") == []
        claim_task(session, task_id, "ann", NOW)
        assert [t.id for t in list_tasks(session, NOW, mine="ann")] == [task_id]
        with pytest.raises(TaskConflict, match="claimed by ann"):
            unclaim_task(session, task_id, "bob", NOW)
        unclaim_task(session, task_id, "bob", NOW, anyone=True)  # a manager takes it back
        assert get_task(session, task_id, NOW).status == "open"
        with pytest.raises(TaskConflict, match="not claimed"):
            unclaim_task(session, task_id, "ann", NOW)
