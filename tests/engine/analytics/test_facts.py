"""The engine keeps each case's facts and the step counts as it runs, in the step's transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import Database
from engine.analytics.recount import recount_facts
from engine.core.clock import VirtualClock
from engine.delivery.config import DeliveryConfig
from engine.delivery.dispatcher import Dispatcher
from engine.intake.events import record_event
from engine.run.runtime import Runtime
from engine.storage.models import CaseFactRow, StepCountRow, VersionRow
from tests.factories import edge, journey_doc, make_case, node, publish, template


def facts_of(db: Database, case_id: int) -> CaseFactRow:
    with db.transaction() as session:
        return session.get(CaseFactRow, case_id)


def steps(db: Database) -> dict[tuple[str, str, str], int]:
    with db.transaction() as session:
        out: dict[tuple[str, str, str], int] = {}
        for row in session.scalars(select(StepCountRow)):
            key = (row.node_id, row.kind, row.port)
            out[key] = out.get(key, 0) + row.cases
        return out


def sms_doc() -> dict:
    """start -> sms -> wait 10 days (payment_received ends early) -> end."""
    return journey_doc(
        key="facts-sms",
        templates={"reminder": template(channel="sms", body="Please pay.", locale="en-GB")},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="sms", template="reminder", tone=1),
            node("wait", "wait", mode="duration", days=10),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )


def test_entering_sending_and_paying_are_kept_as_facts(db: Database, clock: VirtualClock) -> None:
    facts_are_kept(db, clock)


@pytest.mark.postgres
def test_the_postgresql_paths_keep_the_same_facts(pg_db: Database, clock: VirtualClock) -> None:
    """unnest inserts, the upserts that add, UPDATE ... FROM unnest: the same figures."""
    facts_are_kept(pg_db, clock)


def facts_are_kept(db: Database, clock: VirtualClock) -> None:
    """Enter, send a priced SMS, pay in part with a dispute, pay the rest: each fact checked."""
    with db.transaction() as session:
        version: VersionRow = publish(session, sms_doc(), clock.now)
        case = make_case(session, version, clock.now, phone="+4915112345678", amount="100.00")
        case_id = case.id
    runtime = Runtime(db)
    runtime.tick(clock.now)
    config = DeliveryConfig(
        profiles={
            "email": {"provider": "sandbox"},
            "sms": {"provider": "sandbox", "price_per_segment": "0.075"},
            "letter": {"provider": "sandbox"},
        },
        source="test",
    )
    dispatcher = Dispatcher(db, config=config, workers=1)
    dispatcher.dispatch(clock.now + timedelta(hours=2))
    dispatcher.close()

    fact = facts_of(db, case_id)
    assert (fact.messages_sms, fact.cost_sms, fact.messages_email) == (1, 750, 0)
    assert (fact.original_minor, fact.currency, fact.collected_minor) == (10000, "EUR", 0)

    later = clock.now + timedelta(days=3)
    with db.transaction() as session:
        record_event(
            session,
            case.external_id,
            "p1",
            "payment_received",
            {"amount": "40.00", "currency": "EUR"},
            later,
        )
        record_event(session, case.external_id, "d1", "dispute_opened", {}, later)
    runtime.tick(later)
    fact = facts_of(db, case_id)
    assert (fact.collected_minor, fact.payments, fact.paid_full_at, fact.disputes) == (
        4000,
        1,
        None,
        1,
    )
    assert fact.first_paid_at is not None

    paid = clock.now + timedelta(days=4)
    with db.transaction() as session:
        record_event(
            session,
            case.external_id,
            "p2",
            "payment_received",
            {"amount": "70.00", "currency": "EUR"},
            paid,
        )
    runtime.tick(paid)
    fact = facts_of(db, case_id)
    # 60.00 was open: that is what the payment collected, the rest was overpaid
    assert (fact.collected_minor, fact.payments) == (10000, 2)
    assert fact.paid_full_at is not None
    assert fact.days_to_pay == (paid.date() - fact.due_date).days
    counted = steps(db)
    assert counted[("start", "entered", "")] == 1
    assert counted[("remind", "left", "next")] == 1
    assert counted[("wait", "entered", "")] == 1
    # the payment closed the case at its wait; both wires it took count as paid
    assert counted[("wait", "closed", "paid")] == 1
    assert counted[("start", "paid", "next")] == counted[("remind", "paid", "next")] == 1

    with db.transaction() as session:
        again = recount_facts(session).facts[case_id]
    assert again["cost_sms"] == 750 and again["collected_minor"] == 10000


def test_a_second_batch_adds_to_the_same_step_counter(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        version = publish(session, journey_doc(), clock.now)
        for _ in range(3):
            make_case(session, version, clock.now)
    Runtime(db, batch_size=1).tick(clock.now)
    counted = steps(db)
    assert counted[("start", "entered", "")] == 3
    assert counted[("wait", "entered", "")] == 3
    with db.transaction() as session:
        assert len(session.scalars(select(StepCountRow)).all()) == len(counted)
