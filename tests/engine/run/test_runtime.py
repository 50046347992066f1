"""The tick on a virtual clock: walking journeys, the transactional outbox, broken cases, A/B."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

import engine.run.runtime
import engine.run.store
from engine import Database, Runtime, VirtualClock, record_event
from engine.core.assignment import assign
from engine.rules import policy
from engine.run.store import write as real_write
from engine.storage.models import AuditRow, CaseRow, VersionRow
from tests.factories import (
    audit_rows,
    case_row,
    edge,
    journey_doc,
    make_case,
    node,
    outbox_rows,
    publish,
    template,
)


def open_cases(db: Database, version: VersionRow, clock: VirtualClock, **kw: Any) -> str:
    with db.transaction() as session:
        return make_case(session, version, clock.now, **kw).external_id


def walk(db: Database, clock: VirtualClock, external_id: str, days: int) -> list[str]:
    """Tick once a day and note the case's node after each tick."""
    runtime, seen = Runtime(db), []
    for _ in range(days):
        runtime.tick(clock.now)
        with db.transaction() as session:
            row = case_row(session, external_id)
            seen.append(row.node_id if row.status == "active" else f"{row.status}:{row.outcome}")
        clock.advance(timedelta(days=1))
    return seen


def test_a_large_case_walks_minimal_day_by_day(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="250.00")

    path = walk(db, clock, case, days=33)

    assert path == ["wait_7"] * 7 + ["wait_pay"] * 10 + ["wait_14"] * 14 + ["closed:closed"] * 2


def test_a_small_case_is_closed_when_the_payment_wait_times_out(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="50.00")

    path = walk(db, clock, case, days=19)

    assert path == ["wait_7"] * 7 + ["wait_pay"] * 10 + ["closed:closed"] * 2


def test_the_wait_until_d7_ends_at_nine_in_the_debtors_zone(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, case)

    assert str(row.due_at) == "2026-03-09 08:00:00"  # 09:00 CET is 08:00 UTC


def test_each_send_step_writes_exactly_one_outbox_row(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="250.00")
    runtime = Runtime(db)
    for _ in range(40 * 4):  # four ticks a day, several at the same moment
        runtime.tick(clock.now)
        runtime.tick(clock.now)
        clock.advance(timedelta(hours=6))

    with db.transaction() as session:
        rows = outbox_rows(session, case_row(session, case).id)

    assert [(r.node_id, r.channel, r.tone) for r in rows] == [
        ("reminder", "email", 1),
        ("second", "email", 2),
    ]


def test_a_second_tick_at_the_same_moment_finds_nothing_due(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, published, clock)
    runtime = Runtime(db)
    runtime.tick(clock.now)

    assert runtime.tick(clock.now).cases == 0


def test_tick_report_counts_what_happened(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, published, clock, amount="250.00")
    open_cases(db, published, clock, amount="50.00")
    runtime = Runtime(db)
    runtime.tick(clock.now)

    report = runtime.tick(clock.advance(timedelta(days=7)))

    assert (report.cases, report.transitions, report.messages) == (2, 4, 2)


def test_small_batches_still_advance_every_due_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    for _ in range(7):
        open_cases(db, published, clock)

    report = Runtime(db, batch_size=2).tick(clock.now)

    assert (report.cases, report.transitions) == (7, 7)


def test_only_the_fields_conditions_use_are_posted_to_the_rules(
    db: Database, clock: VirtualClock, published: VersionRow, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_cases(db, published, clock, amount="250.00", attributes={"segment": "b2b"})
    runtime = Runtime(db)
    posted: list[dict[str, Any]] = []
    real_evaluate = runtime.evaluator.evaluate

    def spy(ruleset: str, messages: list[dict[str, Any]]) -> list[str | None]:
        if ruleset != policy.RULESET:
            posted.extend(messages)
        return real_evaluate(ruleset, messages)

    monkeypatch.setattr(runtime.evaluator, "evaluate", spy)
    for _ in range(20):
        runtime.tick(clock.now)
        clock.advance(timedelta(days=1))

    assert set().union(*(m.keys() for m in posted)) == {"node", "trigger", "amount_open"}


# -- the transactional outbox ----------------------------------------------------------------


def failing_audit_write(session: Any, writes: Any, now: Any) -> None:
    """store.write, but the audit insert fails after the cases and outbox were written."""
    real_insert = engine.run.store.insert_rows

    def insert_rows(connection: Any, table: Any, columns: Any, rows: Any) -> None:
        if table.name == AuditRow.__tablename__:
            raise OSError("disk full")
        real_insert(connection, table, columns, rows)

    engine.run.store.insert_rows = insert_rows
    try:
        real_write(session, writes, now)
    finally:
        engine.run.store.insert_rows = real_insert


def snapshot(db: Database, external_id: str) -> tuple[Any, ...]:
    with db.transaction() as session:
        row = case_row(session, external_id)
        return (
            row.node_id,
            row.visits,
            row.due_at,
            len(outbox_rows(session)),
            len(audit_rows(session)),
        )


@pytest.fixture
def case_due_to_send(db: Database, clock: VirtualClock, published: VersionRow) -> str:
    """A case parked at wait_7 whose timer is due now: the next tick sends the reminder."""
    case = open_cases(db, published, clock)
    Runtime(db).tick(clock.now)
    clock.advance(timedelta(days=7))
    return case


def test_a_failure_midway_through_writing_leaves_nothing_of_the_batch(
    db: Database, clock: VirtualClock, case_due_to_send: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(db, case_due_to_send)
    monkeypatch.setattr(engine.run.runtime, "write", failing_audit_write)

    with pytest.raises(OSError, match="disk full"):
        Runtime(db).tick(clock.now)

    assert snapshot(db, case_due_to_send) == before


def test_the_failing_write_did_reach_the_outbox_before_it_failed(
    db: Database, clock: VirtualClock, case_due_to_send: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    def watching_write(session: Any, writes: Any, now: Any) -> None:
        seen.append(len(writes.outbox))
        failing_audit_write(session, writes, now)

    monkeypatch.setattr(engine.run.runtime, "write", watching_write)

    with pytest.raises(OSError):
        Runtime(db).tick(clock.now)

    assert seen == [1]  # so the rollback, not an empty batch, is what kept the outbox empty


def test_rerunning_a_failed_tick_sends_exactly_once(
    db: Database, clock: VirtualClock, case_due_to_send: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.run.runtime, "write", failing_audit_write)
    with pytest.raises(OSError):
        Runtime(db).tick(clock.now)
    monkeypatch.undo()

    runtime = Runtime(db)
    runtime.tick(clock.now)
    runtime.tick(clock.now)

    with db.transaction() as session:
        assert [(r.node_id, r.status) for r in outbox_rows(session)] == [("reminder", "pending")]


def test_the_cycle_collector_waits_during_a_batch_and_runs_again_after_it(
    db: Database, clock: VirtualClock, case_due_to_send: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    during: list[bool] = []

    def watching_write(session: Any, writes: Any, now: Any) -> None:
        during.append(gc.isenabled())
        real_write(session, writes, now)

    monkeypatch.setattr(engine.run.runtime, "write", watching_write)
    Runtime(db).tick(clock.now)

    assert during == [False] and gc.isenabled()


def test_a_failing_batch_turns_the_cycle_collector_back_on(
    db: Database, clock: VirtualClock, case_due_to_send: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.run.runtime, "write", failing_audit_write)
    with pytest.raises(OSError):
        Runtime(db).tick(clock.now)

    assert gc.isenabled()


def test_a_host_that_turned_the_cycle_collector_off_keeps_it_off(
    db: Database, clock: VirtualClock, case_due_to_send: str
) -> None:
    gc.disable()
    try:
        Runtime(db).tick(clock.now)
        assert not gc.isenabled()
    finally:
        gc.enable()


# -- one broken case does not stop the others ---------------------------------------------


def break_timezone(db: Database, external_id: str) -> None:
    with db.transaction() as session:
        session.execute(
            update(CaseRow)
            .where(CaseRow.external_id == external_id)
            .values(timezone="Mars/Olympus")
        )


def test_a_case_with_a_broken_timezone_is_stopped(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    broken = open_cases(db, published, clock)
    break_timezone(db, broken)

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, broken)
        assert (row.status, row.hold_reason, row.due_at) == ("stopped", "engine_error", None)


def test_a_broken_case_leaves_an_error_in_the_audit_trail(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    broken = open_cases(db, published, clock)
    break_timezone(db, broken)

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        errors = audit_rows(session, case_row(session, broken).id, kind="error")
        assert len(errors) == 1 and "Mars/Olympus" in errors[0].detail["error"]


def test_the_other_cases_of_the_batch_go_on_past_a_broken_one(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    first, broken, last = (open_cases(db, published, clock) for _ in range(3))
    break_timezone(db, broken)

    report = Runtime(db).tick(clock.now)

    with db.transaction() as session:
        nodes = [case_row(session, c).node_id for c in (first, last)]
    assert (nodes, report.errors) == (["wait_7", "wait_7"], 1)


def test_a_stopped_case_is_not_claimed_again(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    broken = open_cases(db, published, clock)
    break_timezone(db, broken)
    runtime = Runtime(db)
    runtime.tick(clock.now)

    assert runtime.tick(clock.advance(timedelta(days=30))).cases == 0


# -- A/B assignment -------------------------------------------------------------------------

ARMS = [{"name": "A", "weight": 50}, {"name": "B", "weight": 50}]


@pytest.fixture
def split_version(db: Database, clock: VirtualClock) -> VersionRow:
    doc = journey_doc(
        key="ab-journey",
        nodes=[
            node("start", "start"),
            node("ab", "split", experiment="tone-test", arms=ARMS),
            node("soft", "send", channel="email", template="reminder", tone=1),
            node("firm", "send", channel="email", template="reminder", tone=3),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[
            edge("start", "ab"),
            edge("ab", "soft", "A"),
            edge("ab", "firm", "B"),
            edge("soft", "wait"),
            edge("firm", "wait"),
            edge("wait", "done"),
        ],
    )
    with db.transaction() as session:
        return publish(session, doc, clock.now)


def test_each_case_gets_the_arm_its_hash_gives_and_keeps_it_stored(
    db: Database, clock: VirtualClock, split_version: VersionRow
) -> None:
    cases = [open_cases(db, split_version, clock) for _ in range(20)]

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        stored = {c: case_row(session, c).arms for c in cases}
    expected = {c: {"tone-test": assign(c, "tone-test", [("A", 50), ("B", 50)])} for c in cases}
    assert stored == expected


def test_a_case_goes_down_the_arm_it_was_assigned(
    db: Database, clock: VirtualClock, split_version: VersionRow
) -> None:
    cases = [open_cases(db, split_version, clock) for _ in range(20)]

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        taken = {c: outbox_rows(session, case_row(session, c).id)[0].node_id for c in cases}
        arms = {c: case_row(session, c).arms["tone-test"] for c in cases}
    assert taken == {c: {"A": "soft", "B": "firm"}[arms[c]] for c in cases}


def test_the_split_is_audited_with_experiment_and_arm(
    db: Database, clock: VirtualClock, split_version: VersionRow
) -> None:
    case = open_cases(db, split_version, clock)

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        found = audit_rows(session, case_row(session, case).id, kind="assignment")
        arm = case_row(session, case).arms["tone-test"]
    assert [a.detail for a in found] == [{"experiment": "tone-test", "arm": arm}]


def test_a_stored_arm_wins_over_the_hash(
    db: Database, clock: VirtualClock, split_version: VersionRow
) -> None:
    case = open_cases(db, split_version, clock)
    other = {"A": "B", "B": "A"}[assign(case, "tone-test", [("A", 50), ("B", 50)])]
    with db.transaction() as session:
        session.execute(
            update(CaseRow).where(CaseRow.external_id == case).values(arms={"tone-test": other})
        )

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert case_row(session, case).arms == {"tone-test": other}


# -- channels -----------------------------------------------------------------------------


@pytest.fixture
def fallback_version(db: Database, clock: VirtualClock) -> VersionRow:
    doc = journey_doc(
        key="fallback",
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="email", template="reminder", fallback_channel="sms"),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )
    return _publish(db, clock, doc)


def _publish(db: Database, clock: VirtualClock, doc: dict[str, Any]) -> VersionRow:
    with db.transaction() as session:
        return publish(session, doc, clock.now)


def test_the_fallback_channel_is_used_when_there_is_no_email(
    db: Database, clock: VirtualClock, fallback_version: VersionRow
) -> None:
    case = open_cases(db, fallback_version, clock, email=None, phone="+49 151 23456789")

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        rows = outbox_rows(session)
        fallbacks = audit_rows(session, case_row(session, case).id, kind="fallback")
    assert [(r.channel, r.status) for r in rows] == [("sms", "pending")]
    assert [a.detail for a in fallbacks] == [
        {
            "channel": "email",
            "fallback": "sms",
            "hop": 1,
            "reason": "no_address:email",
            "skipped": [],
        }
    ]


@pytest.fixture
def chain_version(db: Database, clock: VirtualClock) -> VersionRow:
    """email, else SMS (its own text), else letter."""
    doc = journey_doc(
        key="chain",
        templates={
            "reminder": template(channel="email"),
            "short": template(channel="sms", body="Please pay."),
        },
        nodes=[
            node("start", "start"),
            node(
                "remind",
                "send",
                channel="email",
                template="reminder",
                fallbacks=[{"channel": "sms", "template": "short"}, {"channel": "letter"}],
            ),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )
    return _publish(db, clock, doc)


def test_a_chain_takes_the_first_hop_with_an_address_and_says_which_it_skipped(
    db: Database, clock: VirtualClock, chain_version: VersionRow
) -> None:
    case = open_cases(db, chain_version, clock, email=None, phone=None, street="Hauptstr. 1")

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        (row,) = outbox_rows(session)
        (fallback,) = audit_rows(session, case_row(session, case).id, kind="fallback")
    assert (row.channel, row.template, row.status) == ("letter", "reminder", "pending")
    assert (row.fallback_channel, row.payload) == (None, {"fallbacks": [], "hop": 2})
    assert fallback.detail == {
        "channel": "email",
        "fallback": "letter",
        "hop": 2,
        "reason": "no_address:email",
        "skipped": ["sms"],
    }


def test_a_chain_keeps_its_rest_on_the_row_for_the_dispatcher(
    db: Database, clock: VirtualClock, chain_version: VersionRow
) -> None:
    open_cases(db, chain_version, clock, phone="+49 151 23456789")

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        (row,) = outbox_rows(session)
    assert (row.channel, row.fallback_channel) == ("email", "sms")
    assert row.payload == {"fallbacks": [["sms", "short"], ["letter", "reminder"]], "hop": 0}


def test_the_first_channel_is_used_when_it_has_an_address(
    db: Database, clock: VirtualClock, fallback_version: VersionRow
) -> None:
    open_cases(db, fallback_version, clock, phone="+49 151 23456789")

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert [r.channel for r in outbox_rows(session)] == ["email"]


def test_no_channel_at_all_suppresses_with_reason_no_address(
    db: Database, clock: VirtualClock, fallback_version: VersionRow
) -> None:
    open_cases(db, fallback_version, clock, email=None)

    report = Runtime(db).tick(clock.now)

    with db.transaction() as session:
        rows = outbox_rows(session)
    assert [(r.status, r.reason) for r in rows] == [("suppressed", "no_address:email")]
    assert (report.suppressed, report.messages) == (1, 0)


def test_a_suppressed_send_is_audited_and_the_journey_goes_on(
    db: Database, clock: VirtualClock, fallback_version: VersionRow
) -> None:
    case = open_cases(db, fallback_version, clock, email=None)

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, case)
        found = audit_rows(session, row.id, kind="suppression")
    assert (row.node_id, row.messages_sent) == ("wait", 0)
    assert [a.detail["reason"] for a in found] == ["no_address:email"]


def test_a_letter_needs_a_street(db: Database, clock: VirtualClock) -> None:
    doc = journey_doc(
        key="letters",
        templates={"reminder": template(channel="letter")},
        nodes=[
            node("start", "start"),
            node("remind", "send", channel="letter", template="reminder"),
            node("wait", "wait", days=3),
            node("done", "end", outcome="closed"),
        ],
        edges=[edge("start", "remind"), edge("remind", "wait"), edge("wait", "done")],
    )
    version = _publish(db, clock, doc)
    open_cases(db, version, clock, street="Hauptstr. 1", postcode="10115", city="Berlin")
    open_cases(db, version, clock, city="Berlin")

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert [r.status for r in outbox_rows(session)] == ["pending", "suppressed"]


# -- events in a tick -----------------------------------------------------------------------


def record(db: Database, clock: VirtualClock, case: str, event_id: str, kind: str, **payload: Any):
    with db.transaction() as session:
        return record_event(session, case, event_id, kind, payload, clock.now)


def test_two_events_in_one_tick_are_applied_in_the_order_they_arrived(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="250.00")
    runtime = Runtime(db)
    runtime.tick(clock.now)
    clock.advance(timedelta(hours=1))
    record(db, clock, case, "pay-1", "payment_received", amount="50.00", currency="EUR")
    record(db, clock, case, "pay-2", "payment_received", amount="30.00", currency="EUR")

    runtime.tick(clock.now)

    with db.transaction() as session:
        notes = [a.detail for a in audit_rows(session, kind="event")]
    assert [(n["event_id"], n["open_before"], n["open_after"]) for n in notes] == [
        ("pay-1", "250.00", "200.00"),
        ("pay-2", "200.00", "170.00"),
    ]


def test_the_second_of_two_events_sees_what_the_first_did(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="250.00")
    runtime = Runtime(db)
    runtime.tick(clock.now)
    record(db, clock, case, "addr-1", "contact_changed", email="first@example.org")
    record(db, clock, case, "addr-2", "contact_changed", email="second@example.org")

    runtime.tick(clock.now)

    with db.transaction() as session:
        assert case_row(session, case).email == "second@example.org"


def test_an_event_a_node_waits_for_moves_the_case_on(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock, amount="250.00")
    runtime = Runtime(db)
    runtime.tick(clock.now)
    runtime.tick(clock.advance(timedelta(days=7)))
    record(db, clock, case, "click-1", "link_clicked")
    record(db, clock, case, "pay-1", "payment_received", amount="250.00", currency="EUR")

    runtime.tick(clock.now)

    with db.transaction() as session:
        row = case_row(session, case)
        assert (row.status, row.outcome, row.amount_open) == ("closed", "paid", 0)


def test_all_events_are_marked_applied_after_the_tick(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    case = open_cases(db, published, clock)
    runtime = Runtime(db)
    runtime.tick(clock.now)
    first, _ = record(db, clock, case, "e-1", "message_opened")
    second, _ = record(db, clock, case, "e-2", "message_delivered")

    runtime.tick(clock.now)

    with db.transaction() as session:
        from engine.storage.models import EventRow

        applied = [session.get(EventRow, e.id).applied_at for e in (first, second)]
    assert applied == [clock.now.replace(tzinfo=None)] * 2
