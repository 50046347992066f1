"""A paused journey: cases wait at their node, payments and policy still apply; unpause resumes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.authoring.lifecycle import SYSTEM, pause_journey, unpause_journey
from engine.storage.models import EventRow, VersionRow
from tests.factories import audit_rows, case_row, make_case, outbox_rows

D8 = timedelta(days=8)  # past minimal's wait until D+7, 09:00


def opened(db: Database, version: VersionRow, clock: VirtualClock, amount: str = "250.00") -> str:
    with db.transaction() as session:
        return make_case(session, version, clock.now, amount=amount).external_id


def pause(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        pause_journey(session, "minimal", SYSTEM, clock.now)


def unpause(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        unpause_journey(session, "minimal", SYSTEM, clock.now)


def where(db: Database, external_id: str) -> tuple[str, str, int]:
    with db.transaction() as session:
        row = case_row(session, external_id)
        return row.node_id, row.status, len(outbox_rows(session, row.id))


def pay(db: Database, clock: VirtualClock, external_id: str, amount: str, event_id: str) -> None:
    with db.transaction() as session:
        payload = {"amount": amount, "currency": "EUR"}
        record_event(session, external_id, event_id, "payment_received", payload, clock.now)


def test_cases_wait_at_their_node_and_resume_on_unpause(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case, runtime = opened(db, published, clock), Runtime(db)
    runtime.tick(clock.now)
    pause(db, clock)
    clock.advance(D8)

    runtime.tick(clock.now)
    assert where(db, case) == ("wait_7", "active", 0)
    with db.transaction() as session:
        row = case_row(session, case)
        assert row.due_at is None
        assert [a.detail for a in audit_rows(session, row.id, "waiting")] == [
            {"reason": "journey_paused"}
        ]
    assert runtime.tick(clock.now).cases == 0  # parked: not claimed again while paused

    unpause(db, clock)
    runtime.tick(clock.now)
    assert where(db, case) == ("wait_pay", "active", 1)


def test_a_case_that_has_not_entered_waits_at_the_start(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case, runtime = opened(db, published, clock), Runtime(db)
    pause(db, clock)
    runtime.tick(clock.now)
    with db.transaction() as session:
        assert case_row(session, case).visits == 0
    unpause(db, clock)
    runtime.tick(clock.now)
    assert where(db, case) == ("wait_7", "active", 0)


def test_a_payment_in_full_still_closes_a_case_while_paused(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case, runtime = opened(db, published, clock), Runtime(db)
    runtime.tick(clock.now)
    pause(db, clock)
    pay(db, clock, case, "250.00", "pay-1")

    runtime.tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, case)
        assert (row.status, row.outcome, row.amount_open) == ("closed", "paid", 0)


def test_an_event_the_journey_waits_for_waits_for_unpause(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case, runtime = opened(db, published, clock, amount="250.00"), Runtime(db)
    runtime.tick(clock.now)
    clock.advance(D8)
    runtime.tick(clock.now)
    assert where(db, case) == ("wait_pay", "active", 1)
    pause(db, clock)
    pay(db, clock, case, "50.00", "pay-part")

    runtime.tick(clock.now)
    with db.transaction() as session:
        event = session.scalar(select(EventRow).where(EventRow.event_id == "pay-part"))
        row = case_row(session, case)
        assert (event.applied_at, row.node_id, row.amount_open) == (None, "wait_pay", 250)

    unpause(db, clock)
    runtime.tick(clock.now)
    with db.transaction() as session:
        row = case_row(session, case)
        assert (row.node_id, row.amount_open) != ("wait_pay", 250)
        assert row.amount_open == 200
