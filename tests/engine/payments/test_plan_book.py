"""Plans in the database: agreed once, payments allocated in order, missed instalments recorded
once after the grace days, the plan completed and the case closed as paid; the journey reacts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.payments.plan_book import Mandate, agree_plan, check_plans, plan_of
from engine.payments.plans import PlanRefused
from engine.storage.models import CaseRow, EventRow, PaymentPlanRow, VersionRow
from tests.engine.payments.conftest import plan_doc
from tests.factories import audit_rows, make_case, outbox_rows, publish


@pytest.fixture
def case_id(db: Database, clock: VirtualClock) -> int:
    """A case of the plan journey, waiting at 'offer' (250.00 EUR open)."""
    with db.transaction() as session:
        version = publish(session, plan_doc(), clock.now)
        row = make_case(session, version, clock.now, external_id="PLAN-1")
        case_id = row.id
    Runtime(db).tick(clock.now)
    return case_id


def agree(db: Database, clock: VirtualClock, case_id: int, key: str = "k1", count: int = 3):
    with db.transaction() as session:
        return agree_plan(session, case_id, key, count, date(2026, 3, 10), clock.now)


def events(db: Database, case_id: int, kind: str) -> list[EventRow]:
    with db.transaction() as session:
        rows = session.scalars(
            select(EventRow).where(EventRow.case_id == case_id, EventRow.type == kind)
        ).all()
        session.expunge_all()
        return list(rows)


def node_of(db: Database, case_id: int) -> tuple[str, str]:
    with db.transaction() as session:
        row = session.get(CaseRow, case_id)
        assert row is not None
        return row.node_id, row.status


def pay(db: Database, clock: VirtualClock, amount: str, event_id: str) -> None:
    with db.transaction() as session:
        payload = {"amount": amount, "currency": "EUR"}
        record_event(session, "PLAN-1", event_id, "payment_received", payload, clock.now)


def test_agreeing_stores_one_plan_and_the_journey_goes_on(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    plan, created = agree(db, clock, case_id)
    again, created_again = agree(db, clock, case_id)  # a double submit: the same key
    assert (created, created_again) == (True, False) and again.id == plan.id
    assert [i[2] for i in plan.instalments] == [8334, 8333, 8333]
    assert sum(i[2] for i in plan.instalments) == plan.total_minor == 25000
    with pytest.raises(PlanRefused) as second:
        agree(db, clock, case_id, key="k2")  # another form: a plan is already agreed
    assert second.value.field == "plan"
    [event] = events(db, case_id, "plan_agreed")
    assert event.payload["instalments"] == 3 and event.payload["amount"] == "250.00"
    Runtime(db).tick(clock.now)
    assert node_of(db, case_id) == ("plan", "active")
    with db.transaction() as session:
        assert any(a.detail.get("event") == "plan_agreed" for a in audit_rows(session, case_id))


def test_a_missed_instalment_after_the_grace_days_once_and_the_journey_branches(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    agree(db, clock, case_id)
    Runtime(db).tick(clock.now)
    # 10 March is due, grace 3 days: still in grace on the 13th.
    clock.advance(timedelta(days=11))  # 13 March
    with db.transaction() as session:
        assert check_plans(session, clock.now).missed == 0
    clock.advance(timedelta(days=1))  # 14 March
    with db.transaction() as session:
        assert check_plans(session, clock.now).missed == 1
    with db.transaction() as session:
        assert check_plans(session, clock.now).missed == 0  # idempotent
    [missed] = events(db, case_id, "instalment_missed")
    assert missed.payload == {
        "plan": 1,
        "seq": 1,
        "due_date": "2026-03-10",
        "amount": "83.34",
        "currency": "EUR",
    }
    Runtime(db).tick(clock.now)
    assert node_of(db, case_id) == ("plan", "active")  # by 'missed', which sent a reminder
    with db.transaction() as session:
        assert [o.node_id for o in outbox_rows(session, case_id)] == ["remind", "missed"]
    with db.transaction() as session:
        assert plan_of(session, case_id).instalments[0][3] == "missed"


def test_payments_cover_instalments_in_order_and_complete_the_plan(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    agree(db, clock, case_id)
    Runtime(db).tick(clock.now)
    pay(db, clock, "100.00", "pay-1")  # covers the first (83.34), part of the second
    with db.transaction() as session:
        first = check_plans(session, clock.now)
    assert (first.paid, first.missed) == (1, 0)
    clock.advance(timedelta(days=40))  # 11 April: the second (10 April) is within grace
    with db.transaction() as session:
        assert check_plans(session, clock.now).missed == 0
    pay(db, clock, "150.00", "pay-2")
    with db.transaction() as session:
        done = check_plans(session, clock.now)
    assert (done.paid, done.completed) == (2, 1)
    assert len(events(db, case_id, "instalment_paid")) == 3
    assert len(events(db, case_id, "plan_completed")) == 1
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        row = session.get(CaseRow, case_id)
        assert (row.status, row.outcome) == ("closed", "paid")
        assert session.scalar(select(PaymentPlanRow.status)) == "completed"
        assert check_plans(session, clock.now).completed == 0


def test_a_closed_case_ends_its_plan_and_takes_no_new_one(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    agree(db, clock, case_id)
    with db.transaction() as session:
        record_event(session, "PLAN-1", "close-1", "case_closed", {}, clock.now)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        assert check_plans(session, clock.now).ended == 1
    with pytest.raises(PlanRefused) as refused:
        agree(db, clock, case_id, key="k3")
    assert refused.value.field == "plan"


def test_the_mandate_is_kept_masked(db: Database, clock: VirtualClock, case_id: int) -> None:
    mandate = Mandate("sandbox", "Erika Mustermann", "DE89 **** 3000")
    with db.transaction() as session:
        plan, _ = agree_plan(
            session, case_id, "k4", 2, date(2026, 3, 2), clock.now, mandate=mandate
        )
    assert plan.iban_masked == "DE89 **** 3000"
    assert plan.mandate_reference and plan.mandate_reference.startswith(f"MW-{case_id}-")
    assert len(plan.mandate_reference) <= 35


def test_a_journey_without_plans_refuses(db: Database, clock: VirtualClock) -> None:
    doc = plan_doc()
    doc["key"] = "no-plans"
    doc["settings"]["plans"]["allowed"] = False
    with db.transaction() as session:
        version = publish(session, doc, clock.now)
        assert isinstance(version, VersionRow)
        row = make_case(session, version, clock.now, external_id="NOPLAN")
        case_id = row.id
    with pytest.raises(PlanRefused):
        agree(db, clock, case_id)
