"""The facts the engine keeps as it runs equal a recount from the audit trail."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database
from engine.analytics.arms import arm_cases, arm_summary
from engine.analytics.recount import counted_arms, rebuild_facts, recount_facts
from engine.analytics.writes import cohort_counts_of
from engine.simulation import simulate
from engine.storage.models import (
    ArmCountRow,
    CaseFactRow,
    CohortCountRow,
    ExposureRow,
    StepCountRow,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "journeys_examples"


def kept(db: Database) -> tuple[dict[int, dict[str, Any]], dict[tuple, dict], Counter]:
    """The facts, exposures and step counts as the engine wrote them."""
    with db.transaction() as session:
        facts = {
            row.case_id: {c.name: getattr(row, c.name) for c in CaseFactRow.__table__.c}
            for row in session.scalars(select(CaseFactRow))
        }
        exposures = {
            (row.case_id, row.experiment): {
                c.name: getattr(row, c.name) for c in ExposureRow.__table__.c if c.name != "id"
            }
            for row in session.scalars(select(ExposureRow))
        }
        steps = Counter(
            {
                (r.journey_id, r.day, r.node_id, r.kind, r.port): r.cases
                for r in session.scalars(select(StepCountRow))
            }
        )
    return facts, exposures, steps


@pytest.fixture(scope="module")
def simulated() -> Database:
    """A 400-case portfolio run for 40 days through a journey with an A/B split."""
    doc = json.loads((EXAMPLES / "uk-arrears-forbearance.json").read_text())
    db = Database("sqlite:///:memory:")
    simulate(doc, cases=400, days=40, seed=7, step_hours=6, db=db)
    return db


def test_the_simulation_produced_every_kind_of_fact(simulated: Database) -> None:
    facts, exposures, steps = kept(simulated)
    assert len(facts) == 400
    assert {e["arm"] for e in exposures.values()} >= {"A", "B"} or len(
        {e["arm"] for e in exposures.values()}
    ) >= 2
    assert sum(f["payments"] for f in facts.values()) > 20
    assert sum(f["paid_full_at"] is not None for f in facts.values()) > 10
    assert (
        sum(f["messages_email"] + f["messages_sms"] + f["messages_letter"] for f in facts.values())
        > 400
    )
    assert {k[3] for k in steps} >= {"entered", "left", "closed", "paid"}


def test_kept_exposures_equal_the_recount(simulated: Database) -> None:
    with simulated.transaction() as session:
        counted = recount_facts(session)
    assert kept(simulated)[1] == counted.exposures


def test_kept_case_facts_equal_the_recount(simulated: Database) -> None:
    """Payments, days to pay, messages and their cost, guardrails: case by case."""
    with simulated.transaction() as session:
        counted = recount_facts(session)
    assert kept(simulated)[0] == counted.facts


def test_kept_step_counts_equal_the_recount(simulated: Database) -> None:
    with simulated.transaction() as session:
        counted = recount_facts(session)
    kept_steps = kept(simulated)[2]
    assert +kept_steps == +counted.steps


def test_kept_cohort_counters_add_up_to_the_recounted_facts(simulated: Database) -> None:
    """The dashboard's counters equal the sums of the recounted facts per entry day."""
    with simulated.transaction() as session:
        counted = recount_facts(session)
        stored = Counter(
            {
                (r.journey_id, r.day, r.currency, r.metric, r.bucket): r.value
                for r in session.scalars(select(CohortCountRow))
            }
        )
    expected = cohort_counts_of(counted.facts.values())
    assert expected[next(k for k in expected if k[3] == "cured")] > 0
    assert +stored == expected


def test_kept_arm_counters_add_up_to_the_recounted_facts(simulated: Database) -> None:
    """Per arm and exposure day: cases, amounts, payments, messages, cost, guardrails."""
    with simulated.transaction() as session:
        counted = recount_facts(session)
        stored = Counter(
            {
                (r.journey_id, r.experiment, r.arm, r.day, r.currency, r.metric, r.bucket): r.value
                for r in session.scalars(select(ArmCountRow))
            }
        )
    expected = counted_arms(counted)
    assert {k[5] for k in expected} >= {"cases", "collected", "paid_full", "messages"}
    assert +stored == expected


def test_rebuild_writes_what_the_engine_kept(simulated: Database) -> None:
    before = kept(simulated)
    with simulated.transaction() as session:
        rebuild_facts(session)
    assert kept(simulated) == before


def test_arm_summary_equals_the_per_case_rows(simulated: Database) -> None:
    """The counters' totals per arm equal the sums over the exposed cases' facts."""
    doc = json.loads((EXAMPLES / "uk-arrears-forbearance.json").read_text())
    split = next(n for n in doc["nodes"] if n["type"] == "split")
    experiment = split["params"]["experiment"]
    with simulated.transaction() as session:
        summaries = arm_summary(session, doc["key"], experiment)
        rows = list(arm_cases(session, doc["key"], experiment))
    assert len(summaries) >= 2
    for s in summaries:
        mine = [r for r in rows if r.arm == s.arm and r.currency == s.currency]
        assert s.cases == len(mine) == sum(s.exposed_by_day.values())
        assert s.collected == sum(r.collected_minor for r in mine)
        assert s.collected_sq == sum(r.collected_minor**2 for r in mine)
        assert s.paid_full == sum(r.paid_full_at is not None for r in mine)
        assert s.messages == sum(r.messages for r in mine)
        assert s.paid_full_by_day == dict(
            Counter((r.paid_full_at - r.exposed_at).days for r in mine if r.paid_full_at)
        )


@pytest.mark.postgres
def test_kept_facts_equal_the_recount_on_postgresql(pg_db: Database) -> None:
    """A smaller simulation on PostgreSQL: the set-based paths keep what the recount finds."""
    doc = json.loads((EXAMPLES / "uk-arrears-forbearance.json").read_text())
    simulate(doc, cases=80, days=30, seed=3, step_hours=12, db=pg_db)
    facts, exposures, steps = kept(pg_db)
    with pg_db.transaction() as session:
        counted = recount_facts(session)
        arms = Counter(
            {
                (r.journey_id, r.experiment, r.arm, r.day, r.currency, r.metric, r.bucket): r.value
                for r in session.scalars(select(ArmCountRow))
            }
        )
    assert len(exposures) > 10 and sum(f["payments"] for f in facts.values()) > 0
    assert (facts, exposures, +steps) == (counted.facts, counted.exposures, +counted.steps)
    assert +arms == counted_arms(counted)
