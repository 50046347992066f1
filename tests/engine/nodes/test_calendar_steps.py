"""Calendar rules on steps: waits until a weekday, salary day or month end; business-day
timeouts; a step's allowed weekdays and hours; the journey's letter calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine import Database, Runtime, VirtualClock
from engine.authoring.validation import validate_document
from engine.core.state import CaseState
from engine.journey.document import Node, load_journey
from engine.nodes import NODE_TYPES
from engine.nodes.wait import Wait, timer_for
from engine.rules.compiler import compile_journey
from engine.rules.sentences import journey_sentences
from tests.factories import edge, journey_doc, make_case, node, outbox_rows, publish, template

BERLIN = ZoneInfo("Europe/Berlin")


def state(**kw: Any) -> CaseState:
    values: dict[str, Any] = {
        "id": 1,
        "external_id": "X",
        "version_id": 1,
        "node_id": "n",
        "status": "active",
        "amount_open": Decimal("10"),
        "amount_original": Decimal("10"),
        "currency": "EUR",
        "due_date": date(2026, 3, 1),
    }
    return CaseState(**(values | kw))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


FRIDAY_9 = {"mode": "weekday", "weekday": "fri", "at_time": "09:00"}
SALARY_DAY = {"mode": "month_day", "month_day": 25, "shift": "before"}
MONTH_END = {"mode": "month_end", "shift": "before", "at_time": "08:00"}


@pytest.mark.parametrize(
    ("params", "now", "expected"),
    [
        (FRIDAY_9, local(2026, 3, 2, 10), local(2026, 3, 6, 9)),
        (SALARY_DAY, local(2026, 4, 20, 10), local(2026, 4, 24)),
        (MONTH_END, local(2026, 5, 10, 10), local(2026, 5, 29, 8)),
    ],
)
def test_a_calendar_wait_ends_on_its_day(
    params: dict[str, Any], now: datetime, expected: datetime
) -> None:
    assert timer_for(params, state(), now.astimezone(UTC)) == expected.astimezone(UTC)


@pytest.mark.parametrize(
    ("params", "en", "de"),
    [
        (
            {"mode": "weekday", "weekday": "fri", "at_time": "09:00"},
            "it is the next Friday at 09:00",
            "der nächste Freitag gekommen ist und es 09:00 Uhr ist",
        ),
        (
            {"mode": "month_day", "month_day": 25, "shift": "before"},
            "it is day 25 of the month (the business day before if that is a weekend or holiday)",
            "der 25. des Monats erreicht ist (der Werktag davor, wenn er auf ein Wochenende oder "
            "einen Feiertag fällt)",
        ),
        (
            {"mode": "month_end", "shift": "before"},
            "it is the last business day of the month",
            "der letzte Werktag des Monats erreicht ist",
        ),
    ],
)
def test_a_calendar_wait_reads_in_both_languages(params: dict[str, Any], en: str, de: str) -> None:
    assert (Wait.phrase(params), Wait.phrase(params, "de")) == (en, de)


def test_a_business_day_timeout_skips_easter() -> None:
    wait_event = NODE_TYPES["wait_event"]
    params = {"events": ["payment_received"], "timeout_days": 2, "timeout_business": True}
    thursday = local(2026, 4, 2, 10).astimezone(UTC)

    entry = wait_event.enter(Node("w", "wait_event", "", params), state(), thursday)

    assert entry.timer_at == local(2026, 4, 8, 10).astimezone(UTC)


def test_a_business_day_timeout_reads_as_business_days() -> None:
    doc = journey_doc(
        [
            node("start", "start"),
            node("w", "wait_event", events=["payment_received"], timeout_days=1,
                 timeout_business=True),
            node("done", "end", outcome="closed"),
        ],
        [edge("start", "w"), edge("w", "done", "payment_received"), edge("w", "done", "timeout")],
        templates={},
    )  # fmt: skip
    journey = load_journey(doc)

    en = journey_sentences(compile_journey(journey, 1), journey)
    de = journey_sentences(compile_journey(journey, 1), journey, "de")

    assert "When a case is at 'w' and 1 business day passed without that, go to 'done'." in en
    assert any("die Frist von 1 Werktag ohne ein solches Ereignis" in s for s in de)


SUSPEND = {
    "event": "service.suspend",
    "allowed_weekdays": ["mon", "tue", "wed", "thu"],
    "allowed_from": "08:00",
    "allowed_until": "16:00",
}


def test_a_step_outside_its_slot_waits_for_the_next_one() -> None:
    webhook = NODE_TYPES["webhook"]
    thursday_evening = local(2026, 3, 5, 17).astimezone(UTC)

    entry = webhook.enter(Node("s", "webhook", "", SUSPEND), state(), thursday_evening)

    assert entry.not_before == local(2026, 3, 9, 8).astimezone(UTC)


def test_a_step_inside_its_slot_goes_now() -> None:
    tuesday = local(2026, 3, 3, 12).astimezone(UTC)

    entry = NODE_TYPES["webhook"].enter(Node("s", "webhook", "", SUSPEND), state(), tuesday)

    assert entry.not_before is None


def slot_doc(**params: Any) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("s", "webhook", **params),
        node("done", "end", outcome="closed"),
    ]
    return journey_doc(nodes, [edge("start", "s"), edge("s", "done")], templates={})


def test_a_slot_reads_in_the_rule_sentence() -> None:
    journey = load_journey(slot_doc(**SUSPEND))

    en = journey_sentences(compile_journey(journey, 1), journey)
    de = journey_sentences(compile_journey(journey, 1), journey, "de")

    assert en[1] == (
        "When a case arrives at 's' and the host system has been told 'service.suspend' (to go "
        "out only Monday, Tuesday, Wednesday, Thursday, 08:00-16:00), go to 'done'."
    )
    assert "(Versand nur Montag, Dienstag, Mittwoch, Donnerstag, 08:00-16:00)" in de[1]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"allowed_weekdays": []}, "params.allowed_weekdays", "at least one weekday"),
        ({"allowed_from": "8 Uhr"}, "params.allowed_from", "HH:MM"),
        ({"allowed_from": "16:00", "allowed_until": "08:00"}, "params.allowed_until", "after"),
        ({"allowed_weekdays": ["monday"]}, "params.allowed_weekdays.0", "Must be one of"),
    ],
)
def test_a_bad_slot_is_named(params: dict[str, Any], field: str, words: str) -> None:
    _, problems = validate_document(slot_doc(event="service.suspend", **params))

    assert [(p.node, p.field) for p in problems] == [("s", field)]
    assert words in problems[0].message


@pytest.mark.parametrize(
    ("params", "field"),
    [({"mode": "weekday"}, "params.weekday"), ({"mode": "month_day"}, "params.month_day")],
)
def test_a_calendar_wait_without_its_day_is_named(params: dict[str, Any], field: str) -> None:
    nodes = [
        node("start", "start"),
        node("w", "wait", **params),
        node("done", "end", outcome="closed"),
    ]
    doc = journey_doc(nodes, [edge("start", "w"), edge("w", "done")], templates={})

    _, problems = validate_document(doc)

    assert [(p.node, p.field) for p in problems] == [("w", field)]


def letter_doc(**fields: Any) -> dict[str, Any]:
    nodes = [
        node("start", "start"),
        node("letter", "send", channel="letter", template="mahnung"),
        node("wait", "wait", mode="duration", days=3),
        node("done", "end", outcome="closed"),
    ]
    edges = [edge("start", "letter"), edge("letter", "wait"), edge("wait", "done")]
    return journey_doc(nodes, edges, {"mahnung": template("letter", locale="de-DE")}, **fields)


def queued_letter(db: Database, now: datetime, doc: dict[str, Any]) -> datetime:
    """When the case's letter may leave (naive UTC), queued at `now`."""
    with db.transaction() as session:
        version = publish(session, doc, now)
        case = make_case(session, version, now, street="Hauptstr. 1", postcode="80331",
                         city="München", subdivision="BY")  # fmt: skip
    Runtime(db).tick(now)
    with db.transaction() as session:
        (row,) = outbox_rows(session, case.id)
        return row.not_before


def test_a_german_letter_is_not_dated_on_a_sunday(db: Database, clock: VirtualClock) -> None:
    sunday = local(2026, 3, 8, 11).astimezone(UTC)

    not_before = queued_letter(db, sunday, letter_doc(jurisdiction="DE"))

    assert not_before == datetime(2026, 3, 8, 23, 0)  # Monday 00:00 in Berlin


def test_a_german_letter_waits_past_a_regional_holiday(db: Database, clock: VirtualClock) -> None:
    epiphany = local(2026, 1, 6, 11).astimezone(UTC)  # a holiday in Bavaria

    not_before = queued_letter(db, epiphany, letter_doc(jurisdiction="DE"))

    assert not_before == datetime(2026, 1, 6, 23, 0)


def test_a_journey_may_let_letters_go_on_any_day(db: Database, clock: VirtualClock) -> None:
    sunday = local(2026, 3, 8, 11).astimezone(UTC)

    not_before = queued_letter(db, sunday, letter_doc(jurisdiction="DE", letter_days="any_day"))

    assert not_before == sunday.replace(tzinfo=None)


def test_a_slotted_send_waits_in_the_outbox(db: Database, clock: VirtualClock) -> None:
    doc = letter_doc(jurisdiction="NONE")
    doc["nodes"][1]["params"] |= {"allowed_weekdays": ["mon"], "allowed_from": "10:00"}
    tuesday = local(2026, 3, 3, 11).astimezone(UTC)

    not_before = queued_letter(db, tuesday, doc)

    assert not_before == datetime(2026, 3, 9, 9, 0)  # Monday 10:00 in Berlin
    assert not_before - tuesday.replace(tzinfo=None) > timedelta(days=5)
