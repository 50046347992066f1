"""Live outcomes: a running experiment read from the facts the engine keeps, one query; the
same cases, arms and exposure days as the audit trail's reading, and money at least as much
(the facts count from the case's entry, the audit reading from the exposure)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import Database, experiment_report, live_outcomes
from engine.experiments.from_simulation import split_outcomes
from engine.simulation import simulate
from engine.storage.models import AuditRow, JourneyRow, VersionRow

EXAMPLE = Path(__file__).resolve().parents[3] / "journeys_examples" / "uk-arrears-forbearance.json"
DAYS = 40


@pytest.fixture(scope="module")
def ran() -> tuple[Database, dict]:
    """400 cases for 40 days through the UK example, whose day-7 letter is an A/B split."""
    doc = json.loads(EXAMPLE.read_text())
    db = Database("sqlite:///:memory:")
    simulate(doc, cases=400, days=DAYS, seed=7, step_hours=6, db=db)
    return db, doc


def test_live_outcomes_are_the_audit_trails_cases_and_arms(ran: tuple[Database, dict]) -> None:
    db, doc = ran
    with db.transaction() as session:
        key = session.scalar(select(JourneyRow.key))
        version_id = session.scalar(select(VersionRow.id).where(VersionRow.status != "draft"))
        end = session.scalar(select(AuditRow.at).order_by(AuditRow.at.desc())) + timedelta(0)
        live = live_outcomes(session, key, doc, "tone_test", end)
        (audit,) = [
            e for e in split_outcomes(session, doc, version_id, end) if e.node_id == "tone_test"
        ]
    assert live is not None
    assert [(a.arm, a.cases) for a in live.arms] == [(a.arm, a.cases) for a in audit.arms]
    assert sum(a.cases for a in live.arms) > 100
    for mine, theirs in zip(live.arms, audit.arms, strict=True):
        assert sorted(mine.exposed_on) == sorted(theirs.exposed_on)
        assert sum(mine.paid) >= sum(theirs.paid)
        assert sum(mine.collected_minor) >= sum(theirs.collected_minor)
    report = experiment_report(live)  # the page's statistics read it like a simulation
    assert report.verdict is not None


def test_no_such_split_or_journey_reads_nothing(ran: tuple[Database, dict]) -> None:
    db, doc = ran
    with db.transaction() as session:
        key = session.scalar(select(JourneyRow.key))
        now = session.scalar(select(AuditRow.at).order_by(AuditRow.at.desc()))
        assert live_outcomes(session, key, doc, "start", now) is None
        assert live_outcomes(session, "no-such-journey", doc, "tone_test", now) is None
