"""The APScheduler jobs: tick, dispatch and webhooks, guarded so a failure never stops them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from engine import Database, Settings
from engine.ops.scheduler import _guarded, build_scheduler
from engine.storage.models import CaseRow, VersionRow
from tests.factories import make_case


def test_the_scheduler_has_one_tick_dispatch_and_webhook_job(db: Database) -> None:
    scheduler = build_scheduler(db, Settings(tick_seconds=7, dispatch_seconds=3))

    jobs = {job.id: job for job in scheduler.get_jobs()}

    assert set(jobs) == {
        "tick",
        "dispatch",
        "webhooks",
        "payments",
        "plans",
        "experiments",
        "holds",
    }
    assert jobs["tick"].trigger.interval.total_seconds() == 7
    assert jobs["dispatch"].max_instances == 1


def test_a_failing_job_is_logged_and_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    def broken(now: datetime) -> None:
        raise RuntimeError("database went away")

    with caplog.at_level(logging.ERROR):
        _guarded("tick", broken)()

    assert "tick failed; the next run will try again" in caplog.text


def test_the_tick_job_advances_due_cases(db: Database, published: VersionRow) -> None:
    with db.transaction() as session:
        make_case(session, published, datetime(2026, 3, 2, 8, 0, tzinfo=UTC), external_id="SCHED-1")
    scheduler = build_scheduler(db, Settings())
    tick_job = next(job for job in scheduler.get_jobs() if job.id == "tick")

    tick_job.func()

    with db.transaction() as session:
        case = session.query(CaseRow).filter_by(external_id="SCHED-1").one()
        assert case.visits >= 1


def test_the_plans_job_collects_and_checks(db: Database) -> None:
    """The plan job runs on the dispatch interval and answers (debits asked, the plan check)."""
    scheduler = build_scheduler(db, Settings(tick_seconds=7, dispatch_seconds=3))
    job = {job.id: job for job in scheduler.get_jobs()}["plans"]
    assert job.trigger.interval.total_seconds() == 3
    from engine.ops.scheduler import _plans
    from engine.payments.plan_book import PlanCheck
    from engine.payments.providers import PaymentProviders

    assert _plans(db, PaymentProviders({}), datetime(2026, 3, 2, tzinfo=UTC)) == (0, PlanCheck())
