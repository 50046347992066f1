"""Storing events: validated, once per event id, and the case made due so a tick applies it."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select

from engine import Database, Runtime, UnknownCase, VirtualClock, naive_utc, record_event
from engine.core.state import CaseState
from engine.intake.event_effects import apply
from engine.intake.events import clean_payload
from engine.storage.models import EventRow, VersionRow
from tests.factories import case_row, make_case


@pytest.fixture
def parked(db: Database, clock: VirtualClock, published: VersionRow) -> str:
    """A case parked at wait_7 until D+7, an hour ago."""
    with db.transaction() as session:
        case = make_case(session, published, clock.now).external_id
    Runtime(db).tick(clock.now)
    clock.advance(timedelta(hours=1))
    return case


def record(db: Database, clock: VirtualClock, case: str, event_id: str, kind: str, **payload: Any):
    with db.transaction() as session:
        return record_event(session, case, event_id, kind, payload, clock.now)


def event_count(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(EventRow)) or 0


def test_an_event_stored_twice_with_the_same_id_is_stored_once(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    record(db, clock, parked, "evt-1", "payment_received", amount="10.00", currency="EUR")
    record(db, clock, parked, "evt-1", "payment_received", amount="10.00", currency="EUR")

    assert event_count(db) == 1


def test_storing_the_same_event_id_again_says_it_was_not_created(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    first, created_first = record(db, clock, parked, "evt-1", "link_clicked")
    again, created_again = record(db, clock, parked, "evt-1", "link_clicked")

    assert (created_first, created_again, again.id) == (True, False, first.id)


def test_a_duplicated_payment_lowers_the_balance_once(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    for _ in range(2):
        record(db, clock, parked, "pay-1", "payment_received", amount="40.00", currency="EUR")
    runtime = Runtime(db)
    runtime.tick(clock.now)
    record(db, clock, parked, "pay-1", "payment_received", amount="40.00", currency="EUR")
    runtime.tick(clock.now)

    with db.transaction() as session:
        assert case_row(session, parked).amount_open == Decimal("210.00")


def test_an_event_makes_a_parked_case_due_now(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    record(db, clock, parked, "evt-1", "link_clicked")

    with db.transaction() as session:
        assert case_row(session, parked).due_at == naive_utc(clock.now)


def test_an_event_for_an_unknown_case_is_refused(db: Database, clock: VirtualClock) -> None:
    with pytest.raises(UnknownCase, match="NOPE"):
        record(db, clock, "NOPE", "evt-1", "link_clicked")


def test_an_unknown_event_type_is_refused_naming_the_type(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        record(db, clock, parked, "evt-1", "earthquake")

    assert caught.value.messages == {"type": ["Unknown event type 'earthquake'."]}


def test_a_payment_without_an_amount_is_refused_naming_the_amount(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        record(db, clock, parked, "evt-1", "payment_received", currency="EUR")

    assert list(caught.value.messages) == ["amount"]


def test_a_payment_in_another_currency_is_refused(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    with pytest.raises(ValidationError, match="EUR"):
        record(db, clock, parked, "evt-1", "payment_received", amount="5.00", currency="USD")


def test_a_refused_event_is_not_stored(db: Database, clock: VirtualClock, parked: str) -> None:
    with pytest.raises(ValidationError):
        record(db, clock, parked, "evt-1", "payment_received", amount="-5", currency="EUR")

    assert event_count(db) == 0


def test_a_payment_payload_is_stored_with_the_amount_as_an_exact_string(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    row, _ = record(db, clock, parked, "evt-1", "payment_received", amount="12.5", currency="EUR")

    with db.transaction() as session:
        stored = session.get(EventRow, row.id)
        assert stored is not None and stored.payload == {"amount": "12.50", "currency": "EUR"}


def test_a_cleaned_payment_payload_is_plain_json() -> None:
    cleaned = clean_payload("payment_received", {"amount": "12.5", "currency": "EUR"})

    assert json.loads(json.dumps(cleaned)) == {"amount": "12.50", "currency": "EUR"}


def test_a_payment_is_not_applied_before_the_next_tick(
    db: Database, clock: VirtualClock, parked: str
) -> None:
    record(db, clock, parked, "evt-1", "payment_received", amount="250.00", currency="EUR")

    with db.transaction() as session:
        assert case_row(session, parked).status == "active"


def state(**kw: Any) -> CaseState:
    values: dict[str, Any] = {
        "id": 1,
        "external_id": "INV-1",
        "version_id": 1,
        "node_id": "wait",
        "status": "active",
        "amount_open": Decimal("100.00"),
        "amount_original": Decimal("100.00"),
        "currency": "EUR",
        "due_date": clock_date(),
    }
    values.update(kw)
    return CaseState(**values)


def clock_date() -> Any:
    from tests.conftest import MONDAY

    return MONDAY.date()


def test_an_overpayment_leaves_zero_open_and_notes_the_excess() -> None:
    cs = state()

    note = apply(cs, "payment_received", {"amount": "130.00", "currency": "EUR"})

    assert (cs.amount_open, note["overpaid"]) == (Decimal("0.00"), "30.00")


def test_a_promise_remembers_date_amount_and_the_balance_it_was_made_on() -> None:
    cs = state()

    apply(cs, "promise_to_pay", {"date": "2026-03-20", "amount": "60.00"})

    assert (str(cs.promise_date), cs.promise_amount, cs.promise_baseline) == (
        "2026-03-20",
        Decimal("60.00"),
        Decimal("100.00"),
    )


def test_an_opt_out_is_kept_in_the_contact_preferences_once() -> None:
    cs = state()

    apply(cs, "opted_out", {"channel": "sms"})
    apply(cs, "opted_out", {"channel": "sms"})

    assert cs.contact_prefs == {"opted_out": ["sms"]}


def test_an_event_without_data_effects_changes_nothing() -> None:
    cs = state()

    assert (apply(cs, "link_clicked", {}), cs) == ({}, state())
