"""Publishing with a choice for running cases: the preview per step, moving, staying, auditing;
the lifecycle's races on PostgreSQL."""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock
from engine.authoring.lifecycle import (
    SYSTEM,
    Actor,
    LifecycleConflict,
    approve_version,
    publish_as_system,
    publish_preview,
    publish_version,
    save_draft,
    submit_version,
)
from engine.intake.importer import CaseImportError, import_cases
from engine.storage.models import AuditRow, CaseRow, OutboxRow
from tests.factories import example_doc, make_case

REVIEWER = Actor.user("reviewer@example.org", "reviewer")
MANAGER = Actor.user("manager@example.org", "manager")


def approved_version(db: Database, clock: VirtualClock, doc: dict[str, Any]) -> int:
    with db.transaction() as session:
        row, _ = save_draft(session, doc, clock.now, MANAGER.name)
        submit_version(session, "minimal", row.number, MANAGER, clock.now)
        approve_version(session, "minimal", row.number, REVIEWER, clock.now)
        return row.number


@pytest.fixture
def running(db: Database, clock: VirtualClock) -> dict[str, str]:
    """Minimal live through the lifecycle; three cases at wait_7, one at the start."""
    with db.transaction() as session:
        version = publish_as_system(session, example_doc("minimal"), clock.now)
        ids = [make_case(session, version, clock.now).external_id for _ in range(3)]
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        late = make_case(session, version, clock.now).external_id  # not ticked: at the start
    return {"waiting": ids[0], "late": late}


def changed_minimal() -> dict[str, Any]:
    """Minimal with wait_7 of another type (a wait for an event) and the start kept."""
    doc = copy.deepcopy(example_doc("minimal"))
    for node in doc["nodes"]:
        if node["id"] == "wait_7":
            node["type"], node["params"] = "wait_event", {"events": ["payment_received"]}
            node["params"]["timeout_days"] = 7
    for edge in doc["edges"]:
        if edge["from"] == "wait_7":
            edge["port"] = "timeout"
    doc["edges"].append({"from": "wait_7", "port": "payment_received", "to": "reminder"})
    return doc


def test_the_preview_counts_cases_per_step(
    db: Database, clock: VirtualClock, running: dict[str, str]
) -> None:
    n = approved_version(db, clock, example_doc("minimal"))
    with db.transaction() as session:
        preview = publish_preview(session, "minimal", n)
    assert [(x.version, x.node, x.cases, x.movable) for x in preview.nodes] == [
        (1, "start", 1, True),
        (1, "wait_7", 3, True),
    ]
    assert (preview.movable, preview.staying) == (4, 0)
    assert preview.lines("de")[1] == (
        "Schritt 'wait_7' der Version 1: 3 Fälle – Wechsel in die neue Version möglich."
    )


def test_cases_whose_step_changed_type_stay_and_are_listed(
    db: Database, clock: VirtualClock, running: dict[str, str]
) -> None:
    n = approved_version(db, clock, changed_minimal())
    with db.transaction() as session:
        result = publish_version(session, "minimal", n, MANAGER, clock.now, move=True)
    assert result.moved == 1  # the one at the start
    assert [(s.node, s.cases) for s in result.stayed] == [("wait_7", 3)]
    with db.transaction() as session:
        versions = {c.external_id: c.version_id for c in session.scalars(select(CaseRow)).all()}
        moved = session.scalars(select(AuditRow).where(AuditRow.kind == "moved")).all()
    assert len(set(versions.values())) == 2
    assert [(a.node_id, a.detail["from_version"], a.detail["to_version"]) for a in moved] == [
        ("start", 1, n)
    ]


def test_without_move_every_case_stays(
    db: Database, clock: VirtualClock, running: dict[str, str]
) -> None:
    n = approved_version(db, clock, example_doc("minimal"))
    with db.transaction() as session:
        result = publish_version(session, "minimal", n, MANAGER, clock.now)
    assert (result.moved, result.staying) == (0, 4)


def test_moved_cases_go_on_in_the_new_version(
    db: Database, clock: VirtualClock, running: dict[str, str]
) -> None:
    n = approved_version(db, clock, example_doc("minimal"))
    with db.transaction() as session:
        publish_version(session, "minimal", n, MANAGER, clock.now, move=True)
    clock.advance(timedelta(days=8))
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        case = session.scalar(select(CaseRow).where(CaseRow.external_id == running["waiting"]))
        kinds = session.scalars(
            select(AuditRow.kind).where(AuditRow.case_id == case.id).order_by(AuditRow.id)
        ).all()
        sent = session.scalars(select(OutboxRow).where(OutboxRow.case_id == case.id)).all()
        assert (case.node_id, [m.version_id for m in sent]) == ("wait_pay", [case.version_id])
    assert kinds[:3] == ["opened", "transition", "moved"]


def test_a_csv_import_names_a_paused_journey(
    db: Database, clock: VirtualClock, running: dict[str, str], tmp_path: Any
) -> None:
    from engine.authoring.lifecycle import pause_journey

    with db.transaction() as session:
        pause_journey(session, "minimal", SYSTEM, clock.now)
    path = tmp_path / "cases.csv"
    path.write_text(
        "external_id,debtor_name,country,currency,amount,due_date\nX,A,DE,EUR,5,2026-03-01\n"
    )
    with pytest.raises(CaseImportError, match="'paused'"):
        import_cases(db, path, "minimal", clock.now)


# -- PostgreSQL: the same races with real row locks ---------------------------------------------


def _race(db: Database, *steps: Any) -> list[BaseException | None]:
    barrier = threading.Barrier(len(steps))
    outcomes: list[BaseException | None] = [None] * len(steps)

    def run(index: int, step: Any) -> None:
        barrier.wait()
        try:
            with db.transaction() as session:
                step(session)
        except BaseException as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(steps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


@pytest.mark.postgres
def test_two_approvals_and_two_publishes_at_once_on_postgresql(
    pg_db: Database, clock: VirtualClock
) -> None:
    with pg_db.transaction() as session:
        row, _ = save_draft(session, example_doc("minimal"), clock.now, MANAGER.name)
        submit_version(session, "minimal", row.number, MANAGER, clock.now)
    second = Actor.user("second@example.org", "reviewer")
    approvals = _race(
        pg_db,
        lambda s: approve_version(s, "minimal", 1, REVIEWER, clock.now),
        lambda s: approve_version(s, "minimal", 1, second, clock.now),
    )
    assert sorted(type(o).__name__ for o in approvals) == ["LifecycleConflict", "NoneType"]
    publishes = _race(
        pg_db,
        lambda s: publish_version(s, "minimal", 1, MANAGER, clock.now),
        lambda s: publish_version(s, "minimal", 1, SYSTEM, clock.now),
    )
    assert sum(isinstance(o, LifecycleConflict) for o in publishes) == 1
    assert sum(o is None for o in publishes) == 1
