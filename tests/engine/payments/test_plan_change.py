"""Changing and cancelling a plan: the old plan replaced or cancelled and the new one active in one
transaction, paid instalments kept, one event through the intake, a double submit stored once,
stale and foreign forms refused, a plan the provider collects on its own schedule left alone."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.payments import plan_book, plan_change
from engine.payments.plan_book import Mandate, agree_plan, check_plans, plan_of
from engine.payments.plan_change import (
    PlanNotFound,
    PlanStale,
    cancel_plan,
    change_plan,
    changeable_plan,
)
from engine.payments.plans import PlanRefused
from engine.storage.models import EventRow, PaymentPlanRow, PlanInstalmentRow
from tests.engine.payments.conftest import plan_doc
from tests.engine.payments.test_plan_book import agree, case_id, events, node_of, pay
from tests.factories import audit_rows, make_case, publish

__all__ = ["case_id"]  # the fixture, shared with test_plan_book


def _plans(db: Database) -> list[tuple[int, str, int]]:
    with db.transaction() as session:
        rows = session.scalars(select(PaymentPlanRow).order_by(PaymentPlanRow.id)).all()
        return [(r.id, r.status, r.total_minor) for r in rows]


def _instalments(db: Database, plan_id: int) -> list[tuple[int, str]]:
    with db.transaction() as session:
        rows = session.scalars(
            select(PlanInstalmentRow)
            .where(PlanInstalmentRow.plan_id == plan_id)
            .order_by(PlanInstalmentRow.seq)
        ).all()
        return [(r.amount_minor, r.status) for r in rows]


def change(db: Database, clock: VirtualClock, case_id: int, plan_id: int, key: str, count: int):
    with db.transaction() as session:
        first = clock.now.date() + timedelta(days=5)
        return change_plan(session, case_id, plan_id, key, count, first, clock.now)


def test_changing_replaces_the_plan_for_what_is_open_and_keeps_what_was_paid(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    old, _ = agree(db, clock, case_id)
    Runtime(db).tick(clock.now)
    pay(db, clock, "83.34", "pay-1")  # the first instalment
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        assert check_plans(session, clock.now).paid == 1
    new, created = change(db, clock, case_id, old.id, "c1", 4)
    again, created_again = change(db, clock, case_id, old.id, "c1", 4)  # a double submit
    assert (created, created_again) == (True, False) and again.id == new.id
    assert _plans(db) == [(old.id, "replaced", 25000), (new.id, "active", 16666)]
    assert _instalments(db, old.id) == [(8334, "paid"), (8333, "cancelled"), (8333, "cancelled")]
    assert _instalments(db, new.id) == [
        (4168, "open"),
        (4166, "open"),
        (4166, "open"),
        (4166, "open"),
    ]
    [event] = events(db, case_id, "plan_changed")
    assert event.event_id == f"plan:{new.id}:changed"
    assert event.payload == {
        "plan": new.id,
        "replaces": old.id,
        "instalments": 4,
        "amount": "166.66",
        "currency": "EUR",
        "first_date": (clock.now.date() + timedelta(days=5)).isoformat(),
        "by": "portal",
    }
    Runtime(db).tick(clock.now)
    assert node_of(db, case_id) == ("plan", "active")  # the journey goes on waiting
    with db.transaction() as session:
        assert any(a.detail.get("event") == "plan_changed" for a in audit_rows(session, case_id))
        assert plan_of(session, case_id).id == new.id
    # The plan job watches the new plan only: the old one's cancelled instalments never miss.
    clock.advance(timedelta(days=60))
    with db.transaction() as session:
        check = check_plans(session, clock.now)
    assert check.missed == 2  # the new plan's first two
    assert _instalments(db, old.id)[1:] == [(8333, "cancelled"), (8333, "cancelled")]


def test_a_changed_plan_keeps_its_mandate(db: Database, clock: VirtualClock, case_id: int) -> None:
    mandate = Mandate("sandbox", "Erika Muster", "DE89 **** 3000")
    with db.transaction() as session:
        old, _ = agree_plan(
            session, case_id, "k1", 3, date(2026, 3, 10), clock.now, mandate=mandate
        )
    new, _ = change(db, clock, case_id, old.id, "c1", 2)
    assert (new.iban_masked, new.mandate_reference) == (old.iban_masked, old.mandate_reference)


def test_the_limits_of_a_new_plan_hold_and_nothing_changes(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    old, _ = agree(db, clock, case_id)
    with pytest.raises(PlanRefused) as many:
        change(db, clock, case_id, old.id, "c1", 7)
    assert many.value.field == "instalments"
    with db.transaction() as session, pytest.raises(PlanRefused) as late:
        change_plan(session, case_id, old.id, "c2", 2, date(2027, 1, 1), clock.now)
    assert late.value.field == "first_date"
    assert _plans(db) == [(old.id, "active", 25000)]
    assert events(db, case_id, "plan_changed") == []


def test_a_change_is_one_transaction(
    db: Database, clock: VirtualClock, case_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event intake failing after the old plan moved leaves the old plan as it was."""
    old, _ = agree(db, clock, case_id)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the intake is down")

    monkeypatch.setattr(plan_book, "record_event", broken)  # a change: with its schedule
    monkeypatch.setattr(plan_change, "record_event", broken)  # a cancel
    with pytest.raises(RuntimeError):
        change(db, clock, case_id, old.id, "c1", 2)
    with pytest.raises(RuntimeError), db.transaction() as session:
        cancel_plan(session, case_id, old.id, clock.now)
    assert _plans(db) == [(old.id, "active", 25000)]
    assert {status for _amount, status in _instalments(db, old.id)} == {"open"}


def test_cancelling_cancels_the_open_instalments_once(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    old, _ = agree(db, clock, case_id)
    Runtime(db).tick(clock.now)
    pay(db, clock, "83.34", "pay-1")
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        check_plans(session, clock.now)
    with db.transaction() as session:
        assert cancel_plan(session, case_id, old.id, clock.now) is True
    with db.transaction() as session:
        assert cancel_plan(session, case_id, old.id, clock.now) is False  # a double submit
    assert _plans(db) == [(old.id, "cancelled", 25000)]
    assert _instalments(db, old.id) == [(8334, "paid"), (8333, "cancelled"), (8333, "cancelled")]
    [event] = events(db, case_id, "plan_cancelled")
    assert event.payload == {"plan": old.id, "by": "portal"}
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        assert any(a.detail.get("event") == "plan_cancelled" for a in audit_rows(session, case_id))
    # A new plan may be agreed afterwards, for what is open.
    with db.transaction() as session:
        fresh, created = agree_plan(session, case_id, "k2", 2, clock.now.date(), clock.now)
    assert created and fresh.total_minor == 16666


def test_stale_and_foreign_forms_are_refused(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    old, _ = agree(db, clock, case_id)
    new, _ = change(db, clock, case_id, old.id, "c1", 2)
    with pytest.raises(PlanStale):
        change(db, clock, case_id, old.id, "c2", 3)  # a form made for the old plan
    with pytest.raises(PlanStale), db.transaction() as session:
        cancel_plan(session, case_id, old.id, clock.now)
    with db.transaction() as session:
        version = publish(session, plan_doc(), clock.now)
        other = make_case(session, version, clock.now, external_id="PLAN-2").id
    with pytest.raises(PlanNotFound):
        change(db, clock, other, new.id, "c3", 2)  # another case's plan
    with pytest.raises(PlanNotFound), db.transaction() as session:
        cancel_plan(session, other, new.id, clock.now)
    with pytest.raises(PlanNotFound), db.transaction() as session:
        changeable_plan(session, case_id, 0)
    assert _plans(db) == [(old.id, "replaced", 25000), (new.id, "active", 25000)]


def test_a_plan_the_provider_schedules_is_not_changed_here(
    db: Database, clock: VirtualClock, case_id: int
) -> None:
    mandate = Mandate("gocardless", "Erika Muster", "DE89 **** 3000", provider_mandate="MD0001")
    with db.transaction() as session:
        old, _ = agree_plan(
            session, case_id, "k1", 3, date(2026, 3, 10), clock.now, mandate=mandate
        )
    for attempt in (
        lambda s: change_plan(s, case_id, old.id, "c1", 2, clock.now.date(), clock.now),
        lambda s: cancel_plan(s, case_id, old.id, clock.now),
    ):
        with pytest.raises(PlanRefused) as refused, db.transaction() as session:
            attempt(session)
        assert refused.value.field == "plan" and not isinstance(refused.value, PlanStale)
        assert "payment provider" in refused.value.words.text("en")
        assert "Zahlungsdienstleister" in refused.value.words.text("de")
    assert _plans(db) == [(old.id, "active", 25000)]


def test_an_ended_plan_offers_no_change(db: Database, clock: VirtualClock, case_id: int) -> None:
    old, _ = agree(db, clock, case_id)
    with db.transaction() as session:
        record_event(session, "PLAN-1", "close-1", "case_closed", {}, clock.now)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        assert check_plans(session, clock.now).ended == 1
    with pytest.raises(PlanStale):
        change(db, clock, case_id, old.id, "c1", 2)
    with db.transaction() as session:
        kinds = session.scalars(select(EventRow.type).where(EventRow.case_id == case_id)).all()
    assert "plan_changed" not in kinds and "plan_cancelled" not in kinds
