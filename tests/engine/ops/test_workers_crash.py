"""Two workers on one PostgreSQL; one is killed mid-run; every due step still runs exactly once.

Each worker is a real process running what `mahnwerk worker` runs (`Runtime.tick`, then
`Dispatcher.dispatch` with the sandbox connectors, in a loop until nothing is due). Worker A is
killed with SIGKILL at a seeded point of the day's progress, or ends itself as SIGKILL would at
one of the dispatcher's named crash points (`engine/delivery/crash_points.py`). PostgreSQL
rolls back A's open transaction when its connection dies; worker B finishes the day, and once
A's dispatch leases have run out a third run finishes what A had leased.

Checked from the database: every case took its three transitions exactly once and in order
(start -> wait_7 -> reminder -> wait_pay: no step lost, none doubled), one outbox row per case,
node and visit (the unique idempotency key makes a second impossible), no message left
'sending', and the audit trail has one row per transition.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from engine import Database, Runtime
from engine.delivery.dispatcher import LEASE
from engine.storage.models import AuditRow, CaseRow, OutboxRow
from tests.conftest import MONDAY
from tests.factories import example_doc, make_cases, publish

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
CASES, BATCH = 600, 25
PATH = ["start", "wait_7", "reminder"]  # the nodes each case leaves, in order

DRIVER = """
import sys
from datetime import datetime
from engine import Database, Dispatcher, Runtime
from engine.delivery import crash_points
from engine.delivery.config import DeliveryConfig

url, moment, batch, crash = sys.argv[1:]
if crash:
    point, nth = crash.split(":")
    crash_points.arm(point, int(nth))
db = Database(url)
runtime = Runtime(db, batch_size=int(batch))
dispatcher = Dispatcher(db, config=DeliveryConfig(), batch_size=int(batch), workers=2)
now = datetime.fromisoformat(moment)
print("ready", flush=True)
while True:
    report = runtime.tick(now)
    sent = dispatcher.dispatch(now)
    if report.cases == 0 and sent.sent + sent.deferred + sent.suppressed + sent.retried == 0:
        break
dispatcher.close()
print("done", flush=True)
"""

# Timed kills anywhere in tick or dispatch, and the dispatcher's named points (nth time).
KILLS = [f"sigkill:{seed}" for seed in range(6)] + [
    "claimed:2",
    "accepted:7",
    "recording:3",
    "recorded:5",
]


def start_worker(url: str, moment: str, crash: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-c", DRIVER, url, moment, str(BATCH), crash]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def wait_for_transitions(db: Database, count: int, timeout: float = 120.0) -> None:
    """Until the workers together have written `count` transitions (committed, so visible)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as session:
            done = session.scalar(
                select(func.count()).select_from(AuditRow).where(AuditRow.kind == "transition")
            )
        if done >= count:
            return
        time.sleep(0.005)
    raise AssertionError(f"the workers wrote fewer than {count} transitions in {timeout} s")


def finish(proc: subprocess.Popen[str]) -> None:
    out, _ = proc.communicate(timeout=240)
    assert (proc.returncode, out.strip()) == (0, "done")


@pytest.mark.parametrize("kill", KILLS)
def test_a_killed_worker_loses_and_doubles_no_step(pg_db: Database, kill: str) -> None:
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, CASES, due_date="2026-02-16")
    moment = MONDAY.isoformat()
    how, arg = kill.split(":")

    if how == "sigkill":
        victim = start_worker(pg_db.url, moment)
        other = start_worker(pg_db.url, moment)
        # Killed at a seeded point of the day's progress, not after a time: on a quiet machine
        # the two workers can finish the whole day within a fixed delay.
        share = random.Random(int(arg)).uniform(0.05, 0.8)
        wait_for_transitions(pg_db, int(share * CASES * len(PATH)))
        victim.send_signal(signal.SIGKILL)
    else:
        victim = start_worker(pg_db.url, moment, crash=kill)
        other = start_worker(pg_db.url, moment)
    victim.communicate(timeout=240)
    assert victim.returncode in (-signal.SIGKILL, 137)  # it died mid-run, not after its work
    finish(other)
    # A's leases run out; a worker at that moment sends what A had claimed and not recorded.
    finish(start_worker(pg_db.url, (MONDAY + LEASE + timedelta(minutes=1)).isoformat()))

    with pg_db.transaction() as session:
        left: dict[int, list[str]] = defaultdict(list)
        for case_id, node_id in session.execute(
            select(AuditRow.case_id, AuditRow.node_id)
            .where(AuditRow.kind == "transition")
            .order_by(AuditRow.id)
        ):
            left[case_id].append(node_id)
        nodes = session.execute(select(CaseRow.node_id, func.count()).group_by(CaseRow.node_id))
        per_step = session.execute(
            select(OutboxRow.case_id, OutboxRow.node_id, OutboxRow.idempotency_key, func.count())
            .group_by(OutboxRow.case_id, OutboxRow.node_id, OutboxRow.idempotency_key)
            .having(func.count() > 1)
        ).all()
        outbox = session.execute(
            select(func.count(), func.count(func.distinct(OutboxRow.case_id)))
        ).one()
        statuses = set(session.scalars(select(OutboxRow.status).distinct()))

    assert dict(nodes.all()) == {"wait_pay": CASES}
    assert len(left) == CASES and all(path == PATH for path in left.values())
    assert per_step == [] and tuple(outbox) == (CASES, CASES)
    assert statuses == {"sandboxed"}  # every message handed to the connector, none left leased


def test_the_outbox_refuses_a_second_row_for_the_same_step(pg_db: Database) -> None:
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        make_cases(session, version, MONDAY, 1, due_date="2026-02-16")

    Runtime(pg_db).tick(MONDAY)
    with pg_db.transaction() as session:
        row = session.scalars(select(OutboxRow)).one()
        copy = {c.name: getattr(row, c.name) for c in OutboxRow.__table__.c if c.name != "id"}
    with pytest.raises(IntegrityError), pg_db.transaction() as session:
        session.execute(OutboxRow.__table__.insert(), copy)
