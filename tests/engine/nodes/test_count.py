"""Counted loops (the `count` step, `counters.<name>` in conditions) and payment history fields."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from engine import Database, Runtime, VirtualClock, journey_sentences, record_event
from engine.authoring.validation import validate_document
from engine.core.state import CaseState
from engine.intake import event_effects
from engine.journey.document import load_journey
from engine.journey.fields import CASE_FIELDS
from engine.rules.compiler import compile_journey
from tests.factories import case_row, example_doc, make_case, outbox_rows, publish


def billing() -> dict[str, Any]:
    return example_doc("billing-retries")


def test_a_condition_on_a_counter_no_step_keeps_is_named() -> None:
    doc = billing()
    again = next(n for n in doc["nodes"] if n["id"] == "again")
    again["params"]["branches"][1]["when"][0]["field"] = "counters.tries"

    _, problems = validate_document(doc)

    assert [(p.node, p.field) for p in problems] == [("again", "params.branches.1.when.0.field")]
    assert problems[0].message == (
        "No count step keeps the counter 'tries'; this journey counts: attempts."
    )
    assert problems[0].text("de").startswith("Kein Zählschritt führt den Zähler 'tries'")


def test_a_count_step_needs_its_counter_named_in_words() -> None:
    doc = billing()
    doc["nodes"][1]["params"] = {"counter": "Attempts!"}

    _, problems = validate_document(doc)

    assert [(p.node, p.field) for p in problems] == [("reset", "params.counter")]
    assert "small letter" in problems[0].message


def test_counting_and_a_counter_condition_read_in_both_languages() -> None:
    journey = load_journey(billing())
    compiled = compile_journey(journey, 1)

    en = journey_sentences(compiled, journey)
    de = journey_sentences(compiled, journey, "de")

    assert (
        "When a case arrives at 'Count the attempt' and the counter 'attempts' has gone up by "
        "one, go to 'Wait for the result'." in en
    )
    assert (
        "When a case arrives at 'Start counting attempts' and the counter 'attempts' has "
        "been set to 0, go to 'Ask billing to retry the charge'." in en
    )
    assert any(
        "the reason the last payment failed is 'expired_card' and the counter 'attempts' is "
        "below 4" in s
        for s in en
    )
    assert any("der Zähler 'attempts' um eins erhöht ist" in s for s in de)
    assert any("der Zähler 'attempts' unter 4 liegt" in s for s in de)


def walk(db: Database, clock: VirtualClock, external_id: str, days: int) -> list[str]:
    runtime, seen = Runtime(db), []
    for _ in range(days):
        runtime.tick(clock.now)
        with db.transaction() as session:
            row = case_row(session, external_id)
            seen.append(row.node_id if row.status == "active" else f"{row.status}:{row.outcome}")
        clock.advance(timedelta(days=1))
    return seen


def test_the_retry_loop_stops_after_four_counted_attempts(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        version = publish(session, billing(), clock.now)
        case = make_case(session, version, clock.now)

    path = walk(db, clock, case.external_id, days=40)

    assert path[-1] == "closed:closed"
    with db.transaction() as session:
        row = case_row(session, case.external_id)
        assert row.counters == {"attempts": 4}
        events = [
            r.payload["event"] for r in outbox_rows(session, row.id) if r.channel == "webhook"
        ]
        assert events == ["payment.retry"] * 4 + ["subscription.pause"]


def test_an_expired_card_takes_the_card_branch(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        version = publish(session, billing(), clock.now)
        case = make_case(session, version, clock.now)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        payload = {"amount": "250.00", "currency": "EUR", "reason": "expired_card"}
        record_event(session, case.external_id, "fail-1", "payment_failed", payload, clock.now)
    clock.advance(timedelta(minutes=5))
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, case.external_id)
        assert row.node_id == "wait_5"
        assert row.payment_history == {"last_failure_reason": "expired_card", "failed_payments": 1}


def state(**kw: Any) -> CaseState:
    values: dict[str, Any] = {
        "id": 1,
        "external_id": "X",
        "version_id": 1,
        "node_id": "n",
        "status": "active",
        "amount_open": Decimal("100"),
        "amount_original": Decimal("100"),
        "currency": "EUR",
        "due_date": date(2026, 3, 1),
    }
    return CaseState(**(values | kw))


def read(cs: CaseState, name: str, now: datetime) -> Any:
    return CASE_FIELDS[name].reader()(cs, now)


def test_payment_history_fields_follow_payments_and_failures() -> None:
    cs = state()
    monday = datetime(2026, 3, 2, 10, tzinfo=UTC)

    assert read(cs, "days_since_last_payment", monday) is None  # never paid: no test holds
    event_effects.apply(cs, "payment_received", {"amount": "10.00"}, monday)
    event_effects.apply(
        cs, "payment_failed", {"amount": "10.00", "reason": "insufficient_funds"}, monday
    )
    event_effects.apply(cs, "payment_failed", {"amount": "10.00"}, monday)

    later = monday + timedelta(days=9)
    assert read(cs, "days_since_last_payment", later) == 9
    assert read(cs, "payments_count", later) == 1
    assert read(cs, "failed_payments", later) == 2
    assert read(cs, "last_failure_reason", later) == "unknown"  # the newest failure gave none
