"""Auto-promote: a split that says so has its live winner promoted by the system, once, into a
draft submitted for review; nothing happens too early, without a winner or without the flag."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.experiments.auto import auto_promote
from engine.storage.models import AuditRow, CaseRow, ExposureRow, VersionRow
from tests.factories import make_cases, publish, split_doc

KEY = "auto-split"


def running(db: Database, clock: VirtualClock, auto: bool = True, b_pays: bool = True) -> None:
    """600 cases through a published split; three in five of B's debtors pay the next day."""
    doc = split_doc(key=KEY)
    split = next(n for n in doc["nodes"] if n["type"] == "split")
    split["params"]["auto_promote"] = auto
    start = clock.now
    with db.transaction() as session:
        version = publish(session, doc, start)
        make_cases(session, version, start, 600)
    runtime = Runtime(db)
    runtime.tick(start)
    with db.transaction() as session:
        in_b = session.scalars(
            select(CaseRow.external_id)
            .join(ExposureRow, ExposureRow.case_id == CaseRow.id)
            .where(ExposureRow.arm == "B")
            .order_by(CaseRow.id)
        ).all()
    paid_at = start + timedelta(days=1)
    with db.transaction() as session:
        for i, external_id in enumerate(in_b):
            if b_pays and i % 5 < 3:
                payload = {"amount": "250.00", "currency": "EUR"}
                record_event(session, external_id, f"pay-{i}", "payment_received", payload, paid_at)
    runtime.tick(paid_at)


def test_a_decided_experiment_is_promoted_once_and_submitted(db, clock) -> None:
    running(db, clock)
    later = clock.now + timedelta(days=12)
    with db.transaction() as session:
        (done,) = auto_promote(session, later)
    assert (done.key, done.from_version, done.draft, done.winner) == (KEY, 1, 2, "B")
    assert done.submitted
    with db.transaction() as session:
        draft = session.scalar(select(VersionRow).where(VersionRow.number == 2))
        assert draft.status == "in_review"
        split = next(n for n in draft.document["nodes"] if n["type"] == "split")
        assert {a["name"]: a["weight"] for a in split["params"]["arms"]} == {"A": 0, "B": 100}
        finished = session.scalars(
            select(AuditRow).where(AuditRow.kind == "experiment_finished")
        ).all()
        assert len(finished) == 1 and finished[0].detail["source"] == "live"
        assert auto_promote(session, later + timedelta(days=1)) == []  # once


def test_nothing_too_early_without_a_winner_or_without_the_flag(db, clock) -> None:
    running(db, clock)
    with db.transaction() as session:
        assert auto_promote(session, clock.now + timedelta(days=2)) == []  # one cycle is 9 days


def test_a_split_without_auto_promote_waits_for_a_person(db, clock) -> None:
    running(db, clock, auto=False)
    with db.transaction() as session:
        assert auto_promote(session, clock.now + timedelta(days=12)) == []


def test_no_difference_no_promotion(db, clock) -> None:
    running(db, clock, b_pays=False)
    with db.transaction() as session:
        assert auto_promote(session, clock.now + timedelta(days=12)) == []
