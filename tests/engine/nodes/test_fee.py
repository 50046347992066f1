"""The fee step and interest in a running journey: booked as case events, allocated, closing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import ValidationError

from engine import Database, Runtime, VirtualClock, journey_sentences, record_event
from engine.delivery.webhooks import map_audit
from engine.journey.document import load_journey
from engine.rules.compiler import compile_journey
from tests.factories import (
    audit_rows,
    case_row,
    edge,
    journey_doc,
    make_case,
    node,
    publish,
    template,
)

DEMAND = (
    "Offen: {{ format_money(principal) }}, Mahnkosten {{ format_money(fees) }}, "
    "Verzugszinsen {{ format_money(interest) }} ({{ interest_rate_words }}), "
    "insgesamt {{ format_money(total_due) }}."
)


def fee_doc(**balance: str) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("remind", "send", channel="email", template="remind", tone=1),
        node("fee", "fee", amount="2.00", name="Mahnkosten"),
        node("demand", "send", channel="email", template="demand", tone=2, purpose="demand"),
        node("wait", "wait_event", events=["payment_received"], timeout_days=30),
        node(
            "all_paid",
            "condition",
            branches=[
                {
                    "port": "paid",
                    "label": "Nothing left",
                    "when": [{"field": "total_due", "op": "lte", "value": 0}],
                }
            ],
        ),
        node("paid", "end", outcome="paid"),
        node("done", "end", outcome="closed"),
    ]
    edges = [
        edge("start", "remind"),
        edge("remind", "fee"),
        edge("fee", "demand"),
        edge("demand", "wait"),
        edge("wait", "all_paid", "payment_received"),
        edge("wait", "done", "timeout"),
        edge("all_paid", "paid", "paid"),
        edge("all_paid", "wait", "else"),
    ]
    templates = {
        "remind": template(
            locale="de-DE", body="Bitte zahlen Sie {{ format_money(amount_open) }}."
        ),
        "demand": template(locale="de-DE", body=DEMAND),
    }
    settings = {"interest": {"mode": "statutory"}, "balance": balance}
    return journey_doc(
        nodes, edges, templates, jurisdiction="DE", locale="de-DE", settings=settings
    )


def booked(db: Database, external_id: str) -> list[tuple[str, str]]:
    with db.transaction() as session:
        row = case_row(session, external_id)
        return [
            (a.detail["event"], a.detail["amount"])
            for a in audit_rows(session, row.id, "event")
            if a.detail["event"] in ("fee_charged", "interest_booked")
        ]


def pay(db: Database, clock: VirtualClock, external_id: str, amount: str, n: int) -> None:
    with db.transaction() as session:
        payload = {"amount": amount, "currency": "EUR"}
        record_event(session, external_id, f"pay-{n}", "payment_received", payload, clock.now)
    clock.advance(timedelta(minutes=5))
    Runtime(db).tick(clock.now)


def start(db: Database, clock: VirtualClock, **balance: str) -> str:
    with db.transaction() as session:
        version = publish(session, fee_doc(**balance), clock.now)
        # Due 1 February 2026: interest from 2 February at 1.27 + 5 = 6.27 % (a consumer).
        case = make_case(session, version, clock.now, due_date="2026-02-01")
    Runtime(db).tick(clock.now)
    return case.external_id


def test_the_fee_and_interest_are_booked_as_case_events(db: Database, clock: VirtualClock) -> None:
    external_id = start(db, clock)

    # 28 days on EUR 250.00 at 6.27 %: 120.2 cents; booked on entering the first send.
    assert booked(db, external_id) == [("interest_booked", "1.20"), ("fee_charged", "2.00")]
    with db.transaction() as session:
        row = case_row(session, external_id)
        assert row.node_id == "wait"
        assert row.charges["fees"] == "2.00" and row.charges["interest"] == "1.20"
        assert row.charges["interest_to"] == "2026-03-02"
        events = audit_rows(session, row.id, "event")
        assert {map_audit("event", e.detail, None) for e in events} == {
            "case.fee_charged",
            "case.interest_booked",
        }


def test_a_payment_pays_costs_then_interest_then_principal(
    db: Database, clock: VirtualClock
) -> None:
    external_id = start(db, clock)
    clock.advance(timedelta(days=1))

    pay(db, clock, external_id, "250.00", 1)

    with db.transaction() as session:
        row = case_row(session, external_id)
        # One more day of interest (4.3 cents) booked before the payment is allocated.
        assert row.charges["interest"] == "0.00" and row.charges["fees"] == "0.00"
        assert row.amount_open == Decimal("3.24")  # 2.00 + 1.24 went to fees and interest
        assert row.status == "active" and row.node_id == "wait"
        payment = [
            a
            for a in audit_rows(session, row.id, "event")
            if a.detail["event"] == "payment_received"
        ]
        assert payment[0].detail["to_fees"] == "2.00"
        assert payment[0].detail["to_interest"] == "1.24"
    assert booked(db, external_id)[-1] == ("interest_booked", "0.04")

    pay(db, clock, external_id, "3.24", 2)

    with db.transaction() as session:
        row = case_row(session, external_id)
        assert (row.status, row.outcome) == ("closed", "paid")


def test_paying_the_principal_leaves_the_fee_open_unless_the_journey_closes_on_it(
    db: Database, clock: VirtualClock
) -> None:
    kept = start(db, clock, allocation="principal_costs_interest")
    closed = start(db, clock, allocation="principal_costs_interest", close_when="principal_paid")

    pay(db, clock, kept, "250.00", 1)
    pay(db, clock, closed, "250.00", 2)

    with db.transaction() as session:
        open_ = case_row(session, kept)
        assert (open_.status, open_.amount_open, open_.charges["fees"]) == (
            "active",
            Decimal("0.00"),
            "2.00",
        )
        done = case_row(session, closed)
        assert (done.status, done.outcome, done.charges["fees"]) == ("closed", "paid", "2.00")


def test_a_host_can_charge_a_fee_through_the_event_intake(
    db: Database, clock: VirtualClock
) -> None:
    external_id = start(db, clock)
    with db.transaction() as session:
        payload = {"amount": "3.00", "currency": "EUR", "name": "Porto"}
        record_event(session, external_id, "host-fee-1", "fee_charged", payload, clock.now)
        with pytest.raises(ValidationError) as wrong:
            record_event(
                session,
                external_id,
                "host-fee-2",
                "fee_charged",
                {"amount": "3.00", "currency": "USD"},
                clock.now,
            )
        with pytest.raises(ValidationError) as negative:
            record_event(
                session,
                external_id,
                "host-fee-3",
                "interest_booked",
                {"amount": "-1", "currency": "EUR"},
                clock.now,
            )
    assert wrong.value.messages == {"currency": ["The case is in EUR."]}
    assert "amount" in negative.value.messages
    clock.advance(timedelta(minutes=5))
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, external_id)
        assert row.charges["fees"] == "5.00" and row.charges["fees_charged"] == "5.00"


def test_the_fee_step_reads_in_both_languages() -> None:
    journey = load_journey(fee_doc())
    compiled = compile_journey(journey, 1)

    en = journey_sentences(compiled, journey)
    de = journey_sentences(compiled, journey, "de")

    assert "When a case arrives at 'fee' and a fee of 2 EUR has been charged, go to 'demand'." in en
    assert any("eine Gebühr von 2,00\xa0€ berechnet wurde" in s for s in de)
