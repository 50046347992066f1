"""The verdict: a winner only when the interval, the split, the guardrails and the time allow."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from engine.experiments.outcomes import ArmOutcomes, ExperimentOutcomes
from engine.experiments.report import experiment_report

START = date(2026, 3, 2)


def arm(name: str, n: int, rate: float, seed: int, weight: float = 50, holdout: bool = False):
    rng = np.random.default_rng(seed)
    out = ArmOutcomes(name, weight, holdout=holdout)
    for i in range(n):
        paid = bool(rng.random() < rate)
        amount = int(rng.lognormal(4.6, 0.8) * 100) if paid else 0
        out.add(START + timedelta(days=i % 20), paid, amount, float(rng.integers(1, 30)), 95)
    return out


def experiment(*arms: ArmOutcomes, days: int = 60, cycle: float = 21) -> ExperimentOutcomes:
    return ExperimentOutcomes(
        "tone", "split1", START + timedelta(days=days), list(arms), cycle, START
    )


def test_a_clear_winner_is_named_in_english_and_german() -> None:
    report = experiment_report(experiment(arm("A", 3000, 0.30, 1), arm("B", 3000, 0.40, 2)))
    verdict = report.verdict
    assert verdict.state == "winner" and verdict.winner == "B"
    english, german = verdict.text("en"), verdict.text("de")
    assert english.startswith("B collects ") and "% more per case, 95 % interval" in english
    assert "this will not change with more data" in english
    assert german.startswith("B bringt pro Fall ") and "Intervall" in german
    rel = report.comparisons[0].amount.relative
    assert rel is not None and rel.low > 0
    assert f"{rel.value * 100:.1f}".replace(".", ",") in german


def test_no_winner_before_one_journey_cycle() -> None:
    report = experiment_report(
        experiment(arm("A", 3000, 0.30, 1), arm("B", 3000, 0.40, 2), days=10, cycle=21)
    )
    assert report.verdict.state == "too_early"
    assert "wait 11 more days" in report.verdict.text()


def test_a_worse_guardrail_blocks_the_winner() -> None:
    a, b = arm("A", 3000, 0.30, 1), arm("B", 3000, 0.40, 2)
    b.guardrails["opt_outs"] = [i % 10 == 0 for i in range(3000)]
    report = experiment_report(experiment(a, b))
    assert report.verdict.state == "blocked" and report.verdict.winner is None
    assert "opt-outs" in report.verdict.text()


def test_a_broken_split_is_reported_before_anything_else() -> None:
    report = experiment_report(experiment(arm("A", 3000, 0.30, 1), arm("B", 2500, 0.40, 2)))
    assert report.sample_ratio is not None and report.sample_ratio.broken
    assert report.verdict.state == "split_broken"


def test_alike_arms_are_undecided_with_an_estimate_of_what_is_missing() -> None:
    report = experiment_report(experiment(arm("A", 500, 0.30, 1), arm("B", 500, 0.31, 2)))
    assert report.verdict.state == "undecided"
    assert "No difference yet" in report.verdict.text()
    assert report.power_table and report.power_table[0].need.sequential_per_arm


def test_the_holdout_gives_incremental_money_and_is_never_the_control() -> None:
    report = experiment_report(
        experiment(
            arm("A", 2000, 0.30, 1, 45),
            arm("B", 2000, 0.33, 2, 45),
            arm("holdout", 440, 0.10, 3, 10, holdout=True),
        )
    )
    assert report.control == "A"
    a = next(r for r in report.arms if r.arm == "A")
    assert a.incremental is not None and a.incremental.value > 0
    assert next(r for r in report.arms if r.arm == "holdout").incremental is None


def test_no_cases_no_verdict() -> None:
    report = experiment_report(experiment(ArmOutcomes("A", 50), ArmOutcomes("B", 50)))
    assert report.verdict.state == "no_data"


def test_alpha_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="alpha"):
        experiment_report(experiment(arm("A", 10, 0.3, 1), arm("B", 10, 0.3, 2)), alpha=1.5)


def test_an_arm_with_too_few_cases_is_said_so_not_shown_as_infinity() -> None:
    report = experiment_report(experiment(arm("A", 300, 0.3, 1), arm("B", 1, 0.3, 2)))
    assert report.verdict.state in ("undecided", "split_broken")
    report = experiment_report(experiment(arm("A", 3, 0.3, 1), arm("B", 1, 0.3, 2)))
    assert report.verdict.text() == "Not enough cases in every arm yet to compare."
    assert "inf" not in report.verdict.text("de")
