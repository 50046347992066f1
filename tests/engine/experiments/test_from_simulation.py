"""The simulation feeds the seam: its outcomes per arm recount to its own totals."""

from __future__ import annotations

from decimal import Decimal

from engine.experiments.outcomes import ExperimentOutcomes
from engine.experiments.report import experiment_report
from engine.simulation import simulate
from tests.factories import split_doc


def test_a_simulated_split_reports_its_arms_and_they_add_up() -> None:
    result = simulate(split_doc(holdout=10), cases=200, days=12, step_hours=6)
    assert len(result.experiments) == 1
    data = ExperimentOutcomes.from_json(result.experiments[0])
    assert data.node_id == "test" and data.experiment == "reminder-test"
    assert [a.arm for a in data.arms] == ["A", "B", "holdout"]
    assert data.holdout is not None and data.holdout.holdout
    # The split stands right after the start: every case is exposed, every payment after it.
    assert sum(a.cases for a in data.arms) == 200
    collected = sum(sum(a.collected_minor) for a in data.arms)
    assert Decimal(collected) / 100 == result.collected
    # Only arm B sends anything, so only B's cases pay and cost.
    by_arm = {a.arm: a for a in data.arms}
    assert not any(by_arm["A"].paid) and not any(by_arm["holdout"].paid)
    assert sum(by_arm["B"].cost_minor) > 0 and sum(by_arm["A"].cost_minor) == 0
    assert data.min_runtime_days == 9
    report = experiment_report(data)
    assert report.days_running == 12
    assert report.verdict.state in {"winner", "undecided"}
