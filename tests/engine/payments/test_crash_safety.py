"""A crash between any two steps of a payment books the money once.

The payment path has four points where a crash leaves different traces (engine.payments.
crash_points): the intent written but the provider not asked; the provider's checkout made
but its answer not written; the provider's webhook stored but not processed; the case event
written inside a transaction that never commits. At each, the process "dies" (SimulatedCrash:
the open transaction rolls back, nothing after it runs), then everything is simply done again
as a restarted process would: the debtor clicks again, the provider delivers its webhook
again, the scheduler's job processes what is pending. One payment at the provider, one
payment_received, the case closed once with nothing open.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import (
    Database,
    Runtime,
    VirtualClock,
    process_provider_events,
    start_checkout,
    take_provider_webhook,
)
from engine.payments import crash_points
from engine.payments.crash_points import SimulatedCrash
from engine.storage.models import CaseRow, EventRow, PaymentIntentRow
from tests.engine.payments.conftest import URLS
from tests.factories import case_row


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    yield
    crash_points.disarm()


def attempt(step, *args, **kwargs) -> bool:
    """Run one step; False when it crashed."""
    try:
        step(*args, **kwargs)
    except SimulatedCrash:
        return False
    return True


@pytest.mark.parametrize("point", crash_points.POINTS)
def test_a_crash_at_any_point_books_the_money_once(
    point: str,
    db: Database,
    clock: VirtualClock,
    case: CaseRow,
    providers,
    sandbox: SandboxPaymentProvider,
) -> None:
    crash_points.arm(point)
    crashed = 0
    # The debtor clicks "Pay now" until a checkout comes back (a crash answers nothing).
    while not attempt(start_checkout, db, providers, case.id, "card", URLS, clock.now):
        crashed += 1
    with db.transaction() as session:
        payment_id = session.scalar(select(PaymentIntentRow.provider_payment_id))
    assert payment_id is not None
    hook = sandbox.complete(payment_id, "pay")
    # The provider delivers its webhook until it is answered; the scheduler's job runs too.
    while not attempt(
        take_provider_webhook, db, providers, "sandbox", hook.headers, hook.body, clock.now
    ):
        crashed += 1
        attempt(process_provider_events, db, providers, clock.now)
    process_provider_events(db, providers, clock.now)
    assert crashed == 1, f"the crash point {point} was never reached"

    assert len(sandbox.payments()) == 1
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaymentIntentRow)) == 1
        received = select(func.count()).where(EventRow.type == "payment_received")
        assert session.scalar(received.select_from(EventRow)) == 1
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        row = case_row(session, case.external_id)
        assert (row.status, row.outcome, row.amount_open, row.payments_count) == (
            "closed",
            "paid",
            0,
            1,
        )


def test_an_unknown_point_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown crash point"):
        crash_points.arm("nowhere")


KILLED = """
import sys
from datetime import datetime
from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, process_provider_events
from engine.payments import crash_points

url, folder, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
providers = PaymentProviders({})
providers.add("sandbox", SandboxPaymentProvider(folder, "whsec-test", "http://x"))
crash_points.arm("event_recording", mode="exit")
process_provider_events(Database(url), providers, now)
"""


def test_a_process_killed_while_recording_leaves_nothing_half_written(
    db: Database,
    clock: VirtualClock,
    case: CaseRow,
    providers,
    sandbox: SandboxPaymentProvider,
) -> None:
    import os
    import subprocess
    import sys

    started = start_checkout(db, providers, case.id, "card", URLS, clock.now)
    hook = sandbox.complete(started.payment_id, "pay")
    take_provider_webhook(
        db, providers, "sandbox", hook.headers, hook.body, clock.now, process=False
    )
    url = db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    args = [sys.executable, "-c", KILLED, url, str(sandbox.directory), clock.now.isoformat()]
    killed = subprocess.run(args, env=env, capture_output=True, timeout=120)
    assert killed.returncode == 137, killed.stderr.decode()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 0
    process_provider_events(db, providers, clock.now)
    with db.transaction() as session:
        received = select(func.count()).where(EventRow.type == "payment_received")
        assert session.scalar(received.select_from(EventRow)) == 1
