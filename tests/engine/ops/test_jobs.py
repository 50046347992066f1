"""Designer jobs in the database: create, progress (throttled), finish, fail, stale, heartbeat."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any

import pytest

from engine import Database, VirtualClock, jobs
from engine.ops.jobs import (
    DONE,
    FAILED,
    KEEP_FOR,
    RUNNING,
    STALE_AFTER,
    STALE_ERROR,
    JobFailed,
    Progress,
    ProgressWriter,
    create_job,
    fail_job,
    finish_job,
    get_job,
    record_progress,
    run_job,
    running_jobs,
)


def new_job(db: Database, clock: VirtualClock, kind: str = "simulation", total: int = 10) -> str:
    with db.transaction() as session:
        return create_job(session, kind, 7, clock.now, {"days": total}, total=total).id


def test_a_new_job_is_running_under_a_random_url_safe_id(db: Database, clock: VirtualClock) -> None:
    first, second = new_job(db, clock), new_job(db, clock)
    job = get_job(db, first, clock.now)
    assert job is not None
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first) and first != second
    assert (job.kind, job.user_id, job.status, job.done, job.total, job.percent) == (
        "simulation",
        7,
        RUNNING,
        0,
        10,
        0,
    )
    assert (job.params, job.result, job.error, job.finished) == ({"days": 10}, None, None, False)


def test_an_unknown_job_is_none(db: Database, clock: VirtualClock) -> None:
    assert get_job(db, "nope", clock.now) is None


def test_progress_is_stored_and_read_as_percent(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    record_progress(db, job_id, 250, 1000, clock.now)
    job = get_job(db, job_id, clock.now)
    assert job is not None and (job.done, job.total, job.percent) == (250, 1000, 25)


def test_finishing_stores_the_result(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    finish_job(db, job_id, {"collected": "12.50", "per_day": [{"day": 1}]}, clock.now)
    job = get_job(db, job_id, clock.now)
    assert job is not None
    assert (job.status, job.finished, job.percent, job.error) == (DONE, True, 100, None)
    assert job.result == {"collected": "12.50", "per_day": [{"day": 1}]}


def test_failing_stores_the_message_and_details(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    fail_job(db, job_id, "invalid", clock.now, {"problems": ["node w1: no duration"]})
    job = get_job(db, job_id, clock.now)
    assert job is not None
    assert (job.status, job.error, job.result) == (
        FAILED,
        "invalid",
        {"problems": ["node w1: no duration"]},
    )


def test_progress_after_the_end_does_not_revive_a_job(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    fail_job(db, job_id, "stopped", clock.now)
    record_progress(db, job_id, 5, 10, clock.now)
    job = get_job(db, job_id, clock.now)
    assert job is not None and (job.status, job.done) == (FAILED, 0)


def test_a_job_not_touched_for_two_minutes_is_failed_when_read(
    db: Database, clock: VirtualClock
) -> None:
    job_id = new_job(db, clock)
    clock.advance(STALE_AFTER - timedelta(seconds=1))
    alive = get_job(db, job_id, clock.now)
    clock.advance(timedelta(seconds=2))
    dead = get_job(db, job_id, clock.now)
    assert alive is not None and alive.status == RUNNING
    assert dead is not None and (dead.status, dead.error) == (FAILED, STALE_ERROR)


def test_progress_keeps_a_job_alive(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    clock.advance(STALE_AFTER - timedelta(seconds=1))
    record_progress(db, job_id, 1, 10, clock.now)
    clock.advance(STALE_AFTER - timedelta(seconds=1))
    job = get_job(db, job_id, clock.now)
    assert job is not None and job.status == RUNNING


def test_finished_jobs_never_go_stale(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    finish_job(db, job_id, {"ok": True}, clock.now)
    clock.advance(STALE_AFTER * 10)
    job = get_job(db, job_id, clock.now)
    assert job is not None and (job.status, job.error) == (DONE, None)


def test_running_jobs_counts_one_kind_and_not_the_stale(db: Database, clock: VirtualClock) -> None:
    new_job(db, clock)
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    new_job(db, clock)
    new_job(db, clock, kind="import")
    finish_job(db, new_job(db, clock), {}, clock.now)
    with db.transaction() as session:
        assert running_jobs(session, "simulation", clock.now) == 1


def test_old_finished_jobs_are_pruned_when_a_job_starts(db: Database, clock: VirtualClock) -> None:
    old, still_running = new_job(db, clock), new_job(db, clock)
    finish_job(db, old, {}, clock.now)
    clock.advance(KEEP_FOR + timedelta(hours=1))
    new_job(db, clock)
    assert get_job(db, old, clock.now) is None
    assert get_job(db, still_running, clock.now) is not None  # failed as stale, but kept


def test_the_progress_writer_writes_at_most_once_per_interval(
    db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = new_job(db, clock, total=1000)
    writes: list[int] = []

    def counted(*args: Any) -> None:
        writes.append(args[2])
        record_progress(*args)

    monkeypatch.setattr(jobs, "record_progress", counted)
    progress = ProgressWriter(db, job_id, clock, interval=60)
    for done in range(1, 1001):
        progress(done, 1000)
    job = get_job(db, job_id, clock.now)
    assert writes == [1] and job is not None and job.done == 1


def test_with_no_interval_every_progress_is_written(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    progress = ProgressWriter(db, job_id, clock, interval=0)
    for done in range(1, 4):
        progress(done, 10)
    job = get_job(db, job_id, clock.now)
    assert job is not None and job.done == 3


def test_the_heartbeat_touches_a_running_job(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)
    clock.advance(STALE_AFTER - timedelta(seconds=1))
    writer = ProgressWriter(db, job_id, clock, heartbeat=0.01)
    beating = threading.Thread(target=writer.beat)
    beating.start()
    try:
        deadline = 200
        while deadline and _updated(db, job_id, clock) != clock.now:
            threading.Event().wait(0.01)
            deadline -= 1
    finally:
        writer.stopped.set()
        beating.join()
    clock.advance(timedelta(minutes=1))
    job = get_job(db, job_id, clock.now)
    assert job is not None and job.status == RUNNING


def _updated(db: Database, job_id: str, clock: VirtualClock) -> Any:
    job = get_job(db, job_id, clock.now)
    assert job is not None
    return job.updated_at


def test_run_job_stores_what_the_work_returns(db: Database, clock: VirtualClock) -> None:
    job_id = new_job(db, clock)

    def work(progress: Progress) -> dict[str, Any]:
        progress(10, 10)
        return {"answer": 42}

    run_job(db, job_id, work, clock)
    job = get_job(db, job_id, clock.now)
    assert job is not None and (job.status, job.result, job.done) == (DONE, {"answer": 42}, 10)


@pytest.mark.parametrize(
    ("error", "message", "detail"),
    [
        (JobFailed("invalid", {"problems": ["p"]}), "invalid", {"problems": ["p"]}),
        (ValueError("no rows"), "ValueError: no rows", None),
    ],
)
def test_run_job_stores_why_the_work_failed(
    db: Database, clock: VirtualClock, error: Exception, message: str, detail: Any
) -> None:
    job_id = new_job(db, clock)

    def work(progress: Progress) -> dict[str, Any]:
        raise error

    run_job(db, job_id, work, clock)
    job = get_job(db, job_id, clock.now)
    assert job is not None and (job.status, job.error, job.result) == (FAILED, message, detail)


@pytest.mark.postgres
def test_a_job_lives_and_goes_stale_on_postgresql(pg_db: Database, clock: VirtualClock) -> None:
    done_id, dead_id = new_job(pg_db, clock), new_job(pg_db, clock)
    record_progress(pg_db, done_id, 5, 10, clock.now)
    finish_job(pg_db, done_id, {"per_day": [1, 2]}, clock.now)
    clock.advance(STALE_AFTER + timedelta(seconds=1))
    done, dead = get_job(pg_db, done_id, clock.now), get_job(pg_db, dead_id, clock.now)
    assert done is not None and (done.status, done.result) == (DONE, {"per_day": [1, 2]})
    assert dead is not None and (dead.status, dead.error) == (FAILED, STALE_ERROR)
