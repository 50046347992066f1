"""Background jobs of the designer (simulations, case imports), kept in the database.

`mahnwerk serve` runs several web worker processes and spreads connections over them, so a
job's progress poll and result page may reach any of them. The thread that does the work
stays in the process that got the request; everything a page shows (status, done of total,
the result or the error) is in the `jobs` table, which every worker reads.

The thread writes progress at most every PROGRESS_SECONDS (a fast loop must not become a
stream of write transactions on SQLite's single writer) and a heartbeat every
HEARTBEAT_SECONDS, so a slow step between two progress calls does not look like a dead
process. A job still running whose row was not touched for STALE_AFTER lost its process (a
worker restarted or was killed): reading it marks it failed, instead of a page that polls
forever.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from engine.core.clock import as_utc, naive_utc, utcnow
from engine.core.messages import msg
from engine.storage.db import Database
from engine.storage.models import JobRow

RUNNING, DONE, FAILED = "running", "done", "failed"
STALE_AFTER = timedelta(minutes=2)
PROGRESS_SECONDS = 0.25
HEARTBEAT_SECONDS = 20.0
KEEP_FOR = timedelta(days=7)  # finished jobs older than this are deleted when a new one starts
# Stored in English like every job error; the designer shows it in the user's language.
STALE_ERROR = msg(
    "This job stopped without a result: the server process running it ended "
    "(no sign of life for 2 minutes). Start it again."
).text()

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Job:
    """A job as stored: what it is, whose, how far it got, and how it ended."""

    id: str
    kind: str
    user_id: int
    status: str
    done: int
    total: int
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        """Whether it is done or failed."""
        return self.status != RUNNING

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        if self.finished:
            return 100
        return min(int(100 * self.done / self.total), 100) if self.total > 0 else 0


class JobFailed(Exception):
    """Raised by a job's work to fail with a message for the user and optional details."""

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        user_id=row.user_id,
        status=row.status,
        done=row.done,
        total=row.total,
        params=dict(row.params or {}),
        result=row.result,
        error=row.error,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def create_job(
    session: Session,
    kind: str,
    user_id: int,
    now: datetime,
    params: dict[str, Any] | None = None,
    total: int = 0,
) -> Job:
    """Store a new running job under a random url-safe id; old finished jobs are pruned."""
    session.execute(
        delete(JobRow).where(
            JobRow.status != RUNNING, JobRow.updated_at < naive_utc(now - KEEP_FOR)
        )
    )
    row = JobRow(
        id=secrets.token_urlsafe(16),
        kind=kind,
        user_id=user_id,
        status=RUNNING,
        done=0,
        total=total,
        params=params or {},
        created_at=naive_utc(now),
        updated_at=naive_utc(now),
    )
    session.add(row)
    session.flush()
    return _job(row)


def get_job(db: Database, job_id: str, now: datetime) -> Job | None:
    """The job with this id, marked failed first if its process stopped keeping it alive."""
    with db.transaction() as session:
        session.execute(_stale(now).where(JobRow.id == job_id))
        row = session.get(JobRow, job_id)
        return _job(row) if row is not None else None


def recent_jobs(session: Session, kind: str, limit: int = 100) -> list[Job]:
    """The newest jobs of this kind, newest first, WITHOUT their results (read one with
    get_job): a page listing runs must not load every run's result."""
    columns = [c for c in JobRow.__table__.columns if c.name != "result"]
    rows = session.execute(
        select(*columns).where(JobRow.kind == kind).order_by(JobRow.updated_at.desc()).limit(limit)
    ).all()
    return [
        Job(
            id=r.id,
            kind=r.kind,
            user_id=r.user_id,
            status=r.status,
            done=r.done,
            total=r.total,
            params=dict(r.params or {}),
            result=None,
            error=r.error,
            created_at=as_utc(r.created_at),
            updated_at=as_utc(r.updated_at),
        )
        for r in rows
    ]


def running_jobs(session: Session, kind: str, now: datetime) -> int:
    """How many jobs of this kind are running in any process (stale ones are failed first)."""
    session.execute(_stale(now).where(JobRow.kind == kind))
    counted = select(func.count()).select_from(JobRow)
    return int(session.scalar(counted.where(JobRow.kind == kind, JobRow.status == RUNNING)) or 0)


def _stale(now: datetime) -> Any:
    """An UPDATE failing running jobs not touched for STALE_AFTER (narrowed by the caller)."""
    return (
        update(JobRow)
        .where(JobRow.status == RUNNING, JobRow.updated_at < naive_utc(now - STALE_AFTER))
        .values(status=FAILED, error=STALE_ERROR, updated_at=naive_utc(now))
    )


def record_progress(db: Database, job_id: str, done: int, total: int, now: datetime) -> None:
    """Store how far a running job got (unthrottled: use ProgressWriter from a work loop)."""
    with db.transaction() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == RUNNING)
            .values(done=done, total=total, updated_at=naive_utc(now))
        )


def finish_job(db: Database, job_id: str, result: dict[str, Any], now: datetime) -> None:
    """Store the result; a late result also replaces a stale guess, it is the better answer."""
    with db.transaction() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(status=DONE, result=result, error=None, updated_at=naive_utc(now))
        )


def fail_job(
    db: Database,
    job_id: str,
    error: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Store why the job failed, with optional details (e.g. the problems found) as its result."""
    with db.transaction() as session:
        session.execute(
            update(JobRow)
            .where(JobRow.id == job_id)
            .values(status=FAILED, error=error, result=detail, updated_at=naive_utc(now))
        )


class ProgressWriter:
    """A work loop's progress callback: writes at most every `interval` seconds, and a heartbeat."""

    def __init__(
        self,
        db: Database,
        job_id: str,
        clock: Callable[[], datetime] = utcnow,
        interval: float = PROGRESS_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.db, self.job_id, self.clock = db, job_id, clock
        self.interval, self.heartbeat = interval, heartbeat
        self.written_at = float("-inf")
        self.stopped = threading.Event()

    def __call__(self, done: int, total: int) -> None:
        """Note progress; written only when the last write is `interval` seconds old."""
        now = time.monotonic()
        if now - self.written_at >= self.interval:
            self.written_at = now
            record_progress(self.db, self.job_id, done, total, self.clock())

    def beat(self) -> None:
        """Touch the job so that readers see its process is alive, until stopped."""
        while not self.stopped.wait(self.heartbeat):
            with self.db.transaction() as session:
                session.execute(
                    update(JobRow)
                    .where(JobRow.id == self.job_id, JobRow.status == RUNNING)
                    .values(updated_at=naive_utc(self.clock()))
                )


def run_job(
    db: Database,
    job_id: str,
    work: Callable[[Progress], dict[str, Any]],
    clock: Callable[[], datetime] = utcnow,
) -> None:
    """Do a job's work in this thread and store its result, or why it failed; never raises."""
    progress = ProgressWriter(db, job_id, clock)
    heart = threading.Thread(target=progress.beat, daemon=True, name=f"job-beat-{job_id}")
    heart.start()
    try:
        result = work(progress)
    except JobFailed as exc:
        fail_job(db, job_id, str(exc), clock(), exc.detail)
    except Exception as exc:  # the page must show any failure instead of polling forever
        fail_job(db, job_id, f"{type(exc).__name__}: {exc}", clock())
    else:
        finish_job(db, job_id, result, clock())
    finally:
        progress.stopped.set()
        heart.join()


def start_job(
    db: Database,
    job: Job,
    work: Callable[[Progress], dict[str, Any]],
) -> threading.Thread:
    """Run the work of a created job in a daemon thread of this process."""
    thread = threading.Thread(
        target=run_job, args=(db, job.id, work), daemon=True, name=f"{job.kind}-{job.id}"
    )
    thread.start()
    return thread
