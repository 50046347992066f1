"""The tamper-evident audit trail: chains written by every writer, and tampering found."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from engine import Database, Runtime, SandboxDispatcher, VirtualClock, record_event
from engine.authoring.lifecycle import (
    Actor,
    approve_version,
    pause_journey,
    publish_version,
    save_draft,
    submit_version,
    unpause_journey,
)
from engine.simulation import simulate
from engine.storage.audit_chain import (
    CHANGED,
    DELETED,
    GENESIS,
    INSERTED,
    REORDERED,
    canonical,
    chain_values,
    link,
    verify,
)
from engine.storage.models import AuditRow, VersionRow
from tests.factories import case_row, example_doc, journey_doc, make_case

MANAGER = Actor.user("manager@example.org", "manager")
REVIEWER = Actor.user("reviewer@example.org", "reviewer")


def check(db: Database) -> Any:
    with db.engine.connect() as connection:
        return verify(connection)


def run_days(db: Database, clock: VirtualClock, published: VersionRow, cases: int = 4) -> list:
    """A few cases ticked and dispatched day by day, with an event on the first."""
    with db.transaction() as session:
        ids = [make_case(session, published, clock.now).external_id for _ in range(cases)]
    runtime, dispatcher = Runtime(db), SandboxDispatcher(db, workers=1)
    try:
        for day in range(20):
            if day == 3:
                with db.transaction() as session:
                    record_event(
                        session,
                        ids[0],
                        "pay-1",
                        "payment_received",
                        {"amount": "5.00", "currency": "EUR"},
                        clock.now,
                    )
            runtime.tick(clock.now)
            dispatcher.dispatch(clock.now)
            clock.advance(timedelta(days=1))
    finally:
        dispatcher.close()
    return ids


def rows_of(db: Database, case_id: int | None) -> list[AuditRow]:
    with db.transaction() as session:
        query = select(AuditRow).order_by(AuditRow.id)
        query = query.where(
            AuditRow.case_id.is_(None) if case_id is None else AuditRow.case_id == case_id
        )
        return list(session.scalars(query))


def assert_chained(rows: list[AuditRow]) -> None:
    prev = GENESIS
    for row in rows:
        form = canonical(
            row.at, row.case_id, row.version_id, row.node_id, row.kind, row.rule, row.detail
        )
        assert row.prev_hash == prev, (row.id, row.kind)
        assert row.hash == link(prev, form), (row.id, row.kind)
        prev = row.hash


def test_tick_dispatch_and_events_write_one_chain_per_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    ids = run_days(db, clock, published)

    with db.transaction() as session:
        first = case_row(session, ids[0]).id
    rows = rows_of(db, first)
    kinds = {row.kind for row in rows}
    assert {"opened", "transition", "event"} <= kinds
    assert kinds & {"sent", "delivered", "dispatched", "suppressed", "failed"} or len(rows) > 5
    assert_chained(rows)
    verdict = check(db)
    assert verdict.ok, verdict.broken
    assert verdict.chains == len(ids)
    assert verdict.unchained == 0 and len(verdict.head) == 64


def test_dispatch_rows_are_in_the_case_chain(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    run_days(db, clock, published, cases=2)

    with db.transaction() as session:
        dispatched = session.scalars(
            select(AuditRow).where(AuditRow.detail["outbox_id"].isnot(None))
        ).all()
    assert dispatched, "the dispatcher wrote no audit row"
    assert all(row.hash and row.prev_hash for row in dispatched)
    assert check(db).ok


def test_lifecycle_rows_form_the_system_chain(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        row, _ = save_draft(session, journey_doc(), clock.now, MANAGER.name)
        number = row.number
    with db.transaction() as session:
        submit_version(session, "test-journey", number, MANAGER, clock.now, "ready")
    with db.transaction() as session:
        approve_version(session, "test-journey", number, REVIEWER, clock.now, "fine")
    with db.transaction() as session:
        publish_version(session, "test-journey", number, MANAGER, clock.now)
    with db.transaction() as session:
        pause_journey(session, "test-journey", MANAGER, clock.now, "a look")
    with db.transaction() as session:
        unpause_journey(session, "test-journey", MANAGER, clock.now, "done")

    rows = rows_of(db, None)
    assert len(rows) >= 2
    assert_chained(rows)
    assert check(db).ok


def test_verify_passes_on_a_simulated_portfolio(tmp_path: Any) -> None:
    db = Database(f"sqlite:///{tmp_path / 'sim.sqlite3'}")
    simulate(example_doc("minimal"), cases=150, days=30, step_hours=6, db=db)
    try:
        verdict = check(db)
        with db.engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(AuditRow))
    finally:
        db.dispose()
    assert verdict.ok, verdict.broken
    assert verdict.rows == total > 150
    assert verdict.chains == 150


# -- tampering --------------------------------------------------------------------------------


@pytest.fixture
def trail(db: Database, clock: VirtualClock, published: VersionRow) -> list[AuditRow]:
    """The audit rows of one case with a chain of at least four rows."""
    ids = run_days(db, clock, published, cases=3)
    with db.transaction() as session:
        case_id = case_row(session, ids[1]).id
    rows = rows_of(db, case_id)
    assert len(rows) >= 4
    return rows


def tamper(db: Database, statement: Any) -> None:
    with db.transaction() as session:
        session.execute(statement)


def test_a_changed_detail_is_named(db: Database, trail: list[AuditRow]) -> None:
    victim = trail[2]
    tamper(db, update(AuditRow).where(AuditRow.id == victim.id).values(detail={"forged": 1}))

    broken = check(db).broken
    assert (broken.id, broken.what) == (victim.id, CHANGED)


def test_a_deleted_row_is_named_by_its_successor(db: Database, trail: list[AuditRow]) -> None:
    tamper(db, delete(AuditRow).where(AuditRow.id == trail[1].id))

    broken = check(db).broken
    assert (broken.id, broken.what) == (trail[2].id, DELETED)


def test_an_inserted_row_is_named(db: Database, trail: list[AuditRow]) -> None:
    after = trail[1]
    # Ids only order a chain: make room behind the second row, as a forger could.
    shift = 1_000_000
    for row in reversed(trail[2:]):
        tamper(db, update(AuditRow).where(AuditRow.id == row.id).values(id=row.id + shift))
    assert check(db).ok
    # A forger who knows the rule: the row links to its predecessor and hashes itself right.
    fields = (after.at, after.case_id, after.version_id, after.node_id, "transition", None, {})
    forged = link(after.hash, canonical(*fields))
    names = ("at", "case_id", "version_id", "node_id", "kind", "rule", "detail")
    values = dict(zip(names, fields, strict=True), prev_hash=after.hash, hash=forged)
    tamper(db, insert(AuditRow).values(id=after.id + shift // 2, **values))

    broken = check(db).broken
    assert (broken.id, broken.what) == (after.id + shift // 2, INSERTED)


def copy_of(row: AuditRow) -> dict[str, Any]:
    columns = ("at", "version_id", "node_id", "kind", "rule", "detail", "prev_hash", "hash")
    return {c: getattr(row, c) for c in columns}


def test_swapped_rows_are_named_as_reordered(db: Database, trail: list[AuditRow]) -> None:
    a, b = trail[1], trail[2]
    tamper(db, update(AuditRow).where(AuditRow.id == a.id).values(**copy_of(b)))
    tamper(db, update(AuditRow).where(AuditRow.id == b.id).values(**copy_of(a)))

    broken = check(db).broken
    assert (broken.id, broken.what) == (a.id, REORDERED)


def test_a_row_inserted_without_a_hash_is_named(db: Database, trail: list[AuditRow]) -> None:
    last = trail[-1]
    tamper(
        db,
        insert(AuditRow).values(
            at=last.at, case_id=last.case_id, kind="transition", detail={"forged": True}
        ),
    )
    broken = check(db).broken
    assert broken.what == INSERTED and broken.case_id == last.case_id


def test_the_canonical_form_is_compact_json_in_a_fixed_order() -> None:
    """The hand-built form is exactly json.dumps of the fields in their order, case id last."""
    import json
    from datetime import UTC, datetime
    from decimal import Decimal

    at = datetime(2026, 3, 2, 8, 0, 5, 12, tzinfo=UTC)
    detail = {"zeta": Decimal("612.40"), "alpha": ["ü", None], "nested": {"b": 1, "a": '"x"'}}
    form = canonical(at, 7, 3, "send_1", "transition", "r1", detail)

    expected = {
        "at": "2026-03-02T08:00:05.000012Z",
        "detail": {"alpha": ["ü", None], "nested": {"a": '"x"', "b": 1}, "zeta": "612.40"},
        "kind": "transition",
        "node_id": "send_1",
        "rule": "r1",
        "version_id": 3,
        "case_id": 7,
    }
    assert form == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert canonical(at.replace(tzinfo=None), 7, 3, "send_1", "transition", "r1", detail) == form
    assert canonical("2026-03-02 08:00:05.000012", None, None, None, "x", None, None) == (
        '{"at":"2026-03-02T08:00:05.000012Z","detail":null,"kind":"x","node_id":null,'
        '"rule":null,"version_id":null,"case_id":null}'
    )


def test_a_batch_hashes_rows_as_link_does() -> None:
    """The tick's shared-prefix hashing gives exactly link(prev, canonical(row))."""
    from datetime import datetime

    at = datetime(2026, 3, 2, 8, 0, 5)
    shared: dict[str, Any] = {"from": "wait_7"}
    rows = [
        (at, 1, 3, "wait_7", "transition", "r1", shared),
        (at, 2, 3, "wait_7", "transition", "r1", shared),
        (at, 1, 3, "send_1", "message", None, {"channel": "email"}),
    ]
    known = {1: GENESIS, 2: b"\x01" * 32}
    chained = chain_values(None, rows, known=known)  # type: ignore[arg-type]
    prev = {1: GENESIS, 2: b"\x01" * 32}
    for row, values in zip(rows, chained, strict=True):
        assert values[7] == prev[row[1]]
        assert values[8] == link(prev[row[1]], canonical(*row))
        prev[row[1]] = values[8]


# -- concurrent writers on PostgreSQL ---------------------------------------------------------


def test_concurrent_workers_on_postgresql_keep_every_chain_valid(pg_db: Database) -> None:
    import threading

    from engine.core.clock import naive_utc
    from tests.conftest import MONDAY
    from tests.factories import make_cases, publish

    cases = 400
    with pg_db.transaction() as session:
        version = publish(session, example_doc("minimal"), MONDAY)
        external = list(make_cases(session, version, MONDAY, cases, due_date="2026-02-16"))
    errors: list[BaseException] = []

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # surfaced in the main thread below
                errors.append(exc)

        return run

    for day in range(0, 24, 8):
        now = MONDAY + timedelta(days=day)
        barrier = threading.Barrier(5)

        def tick(at: Any = now, barrier: Any = barrier) -> None:
            runtime = Runtime(pg_db, batch_size=50)
            barrier.wait()
            runtime.tick(at)

        def dispatch(at: Any = now, barrier: Any = barrier) -> None:
            dispatcher = SandboxDispatcher(pg_db, workers=1)
            barrier.wait()
            try:
                dispatcher.dispatch(at)
            finally:
                dispatcher.close()

        def events(at: Any = now, day: int = day, barrier: Any = barrier) -> None:
            barrier.wait()
            for n, ext in enumerate(external[::7]):
                with pg_db.transaction() as session:
                    payload = {"amount": "1.00", "currency": "EUR"}
                    record_event(session, ext, f"p-{day}-{n}", "payment_received", payload, at)

        def system(at: Any = now, barrier: Any = barrier) -> None:
            barrier.wait()
            for n in range(30):
                with pg_db.transaction() as session:
                    session.add(AuditRow(at=naive_utc(at), kind="retry_requested", detail={"n": n}))

        threads = [
            threading.Thread(target=guarded(work))
            for work in (tick, tick, dispatch, events, system)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []

    verdict = check(pg_db)
    assert verdict.ok, verdict.broken
    assert verdict.chains == cases + 1  # every case's chain and the system chain
    with pg_db.engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(AuditRow))
        forks = connection.scalar(
            select(func.count()).select_from(
                select(AuditRow.prev_hash)
                .group_by(AuditRow.case_id, AuditRow.prev_hash)
                .having(func.count() > 1)
                .subquery()
            )
        )
    assert verdict.rows == total > cases * 3
    assert forks == 0  # no two rows of one chain follow the same predecessor
