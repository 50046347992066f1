"""APScheduler 3.x drives tick, dispatch, webhooks, hold ends and provider payments on an interval
(and, when a folder is set, reads bank statements from the statement inbox)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine.core.clock import utcnow
from engine.core.settings import Settings
from engine.delivery.dispatcher import Dispatcher
from engine.delivery.webhooks import deliver_webhooks, emit_from_audit
from engine.experiments.auto import auto_promote
from engine.intake.hold_until import release_holds
from engine.ops.leader import Leadership
from engine.payments.inbox import process_inbox
from engine.payments.plan_book import check_plans
from engine.payments.plan_debits import collect_instalments, schedule_instalments
from engine.payments.provider_events import process_provider_events
from engine.payments.providers import load_payment_providers
from engine.run.runtime import Runtime
from engine.storage.db import Database

log = logging.getLogger(__name__)
# Outcomes mature over days: looking for a decided experiment once an hour is plenty.
EXPERIMENT_SECONDS = 3600
# A hold ends on a day in the case's time zone: looking every five minutes releases it within
# minutes of that day's midnight, and the query reads only held cases with a day (an index).
HOLD_SECONDS = 300


def shared_now(db: Database) -> datetime:
    """The moment a worker's jobs run at: the earlier of this host's clock and the database's.

    Workers on several hosts compare `due_at` and leases with one clock, the database server's,
    so a host whose clock runs ahead can neither advance a case before it is due nor take over
    another worker's lease early. A host whose clock runs behind only acts later.
    """
    return min(utcnow(), db.clock())


def _guarded(
    name: str, job: Callable[[datetime], Any], clock: Callable[[], datetime] = utcnow
) -> Callable[[], None]:
    """Run a job at the clock's time; log, never raise, so the scheduler keeps its rhythm."""

    def run() -> None:
        try:
            result = job(clock())
            log.info("%s: %s", name, result)
        except Exception:
            log.exception("%s failed; the next run will try again", name)

    return run


def build_scheduler(db: Database, settings: Settings, blocking: bool = False) -> BaseScheduler:
    """A scheduler with the tick and dispatch jobs (one instance each at a time)."""
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    runtime = Runtime(db, batch_size=settings.batch_size)
    dispatcher = Dispatcher(db, portal_base_url=settings.portal_base_url)
    common = {"max_instances": 1, "coalesce": True, "next_run_time": datetime.now()}

    def clock() -> datetime:
        return shared_now(db)

    scheduler.add_job(
        _guarded("tick", runtime.tick, clock),
        "interval",
        seconds=settings.tick_seconds,
        id="tick",
        **common,
    )
    scheduler.add_job(
        _guarded("dispatch", dispatcher.dispatch, clock),
        "interval",
        seconds=settings.dispatch_seconds,
        id="dispatch",
        **common,
    )
    leadership = Leadership(db)
    scheduler.add_job(
        _guarded("webhooks", lambda now: _webhooks(db, leadership, now), clock),
        "interval",
        seconds=settings.dispatch_seconds,
        id="webhooks",
        **common,
    )
    # Experiments whose split says auto_promote: the leader alone, so one draft per winner.
    scheduler.add_job(
        _guarded("experiments", lambda now: _experiments(db, leadership, now), clock),
        "interval",
        seconds=EXPERIMENT_SECONDS,
        id="experiments",
        **common,
    )
    # Holds whose `until` day has come are released (engine/intake/hold_until.py): the leader
    # alone, for one query per run; the event ids make a second worker's run store nothing.
    scheduler.add_job(
        _guarded("holds", lambda now: _holds(db, leadership, now), clock),
        "interval",
        seconds=HOLD_SECONDS,
        id="holds",
        **common,
    )
    # Provider webhooks are processed right after they are stored; this catches the rest
    # (a provider that was down when fetched, a process that ended in between). Safe in every
    # worker: each case event's id is made from provider, payment and state.
    providers = load_payment_providers(settings)
    scheduler.add_job(
        _guarded("payments", lambda now: process_provider_events(db, providers, now)),
        "interval",
        seconds=settings.dispatch_seconds,
        id="payments",
        **common,
    )
    # Instalment plans: debits started on their dates, payments allocated, missed instalments
    # recorded. Safe in every worker: each key and event id names the plan and the instalment.
    scheduler.add_job(
        _guarded("plans", lambda now: _plans(db, providers, now), clock),
        "interval",
        seconds=settings.dispatch_seconds,
        id="plans",
        **common,
    )
    inbox = settings.statement_inbox
    if inbox:
        scheduler.add_job(
            _guarded("statements", lambda now: process_inbox(db, inbox, now)),
            "interval",
            seconds=settings.dispatch_seconds,
            id="statements",
            **common,
        )
    return scheduler


def _experiments(db: Database, leadership: Leadership, now: datetime) -> Any:
    """Promote decided experiments that say auto_promote (leader only)."""
    if not leadership.is_leader():
        return None
    with db.transaction() as session:
        return auto_promote(session, now)


def _holds(db: Database, leadership: Leadership, now: datetime) -> Any:
    """Release the holds whose last day has come (leader only)."""
    if not leadership.is_leader():
        return None
    with db.transaction() as session:
        return release_holds(session, now)


def _plans(db: Database, providers: Any, now: datetime) -> Any:
    """Collect the instalments due by debit, then check the plans against payments and dates."""
    debits = collect_instalments(db, providers, now) + schedule_instalments(db, providers, now)
    with db.transaction() as session:
        return debits, check_plans(session, now)


def _webhooks(db: Database, leadership: Leadership, now: datetime) -> Any:
    """Emit webhook events from the audit trail (leader only: one cursor), then deliver them."""
    emitted = emit_from_audit(db, now) if leadership.is_leader() else None
    return emitted, deliver_webhooks(db, now)
