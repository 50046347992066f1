"""The A/A check: peeking daily does not inflate false positives; a true effect is found."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from scipy import stats as sps

from engine.experiments import calibration, power, sequential, stats
from engine.experiments.outcomes import ArmOutcomes


def test_a_thousand_a_a_experiments_looked_at_daily_stay_under_alpha() -> None:
    result = calibration.peeking(experiments=1000, days=30, per_day=50, lift=0.0)
    print(
        f"A/A, 1000 experiments x 30 daily looks: {result.sequential_share:.1%} declared a "
        f"winner with the confidence sequence, {result.fixed_share:.1%} with a daily z-test"
    )
    assert result.sequential_share <= 0.05  # alpha; measured about 0.5 %
    # The contrast that makes the method necessary: the naive rule breaks alpha several times.
    assert result.fixed_share > 0.15


def test_a_true_effect_is_found_at_about_the_planned_power() -> None:
    # Cohen's d of a 25 % lift of the paid rate on these amounts, and the cases per arm the
    # sequential rule needs for 80 % power: run exactly that many, looked at daily.
    rng = np.random.default_rng(7)
    amounts = rng.lognormal(4.6, 0.8, size=400_000)
    a = np.where(rng.random(400_000) < 0.3, amounts, 0)
    b = np.where(rng.random(400_000) < 0.375, amounts, 0)
    need = power.cases_for_effect(power.standardised(a, b), 0.05, 0.8)
    assert need.sequential_per_arm is not None
    per_day = math.ceil(need.sequential_per_arm / 30)
    result = calibration.peeking(experiments=1000, days=30, per_day=per_day, lift=0.25)
    print(
        f"A/B +25 %: {need.sequential_per_arm} cases per arm planned for 80 % power, "
        f"found by day 30 in {result.sequential_share:.1%} (last look alone "
        f"{result.final_sequential_share:.1%})"
    )
    assert 0.72 <= result.final_sequential_share <= 0.88
    assert result.sequential_share >= result.final_sequential_share


def test_the_vectorised_rule_is_the_pages_rule() -> None:
    """calibration.peeking decides exactly as stats.mean_difference does on the same data."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = np.where(rng.random(300) < 0.3, rng.lognormal(4.6, 0.8, 300), 0)
        b = np.where(rng.random(300) < 0.4, rng.lognormal(4.6, 0.8, 300), 0)
        diff = stats.mean_difference(a, b, 0.05, 4000)
        se = math.sqrt(a.var(ddof=1) / 300 + b.var(ddof=1) / 300)
        width = float(sequential.half_width(se, 600, 4000, 0.05))
        assert diff.absolute.excludes_zero == (abs(b.mean() - a.mean()) > width)


def test_the_boundary_is_howards_normal_mixture_in_information_units() -> None:
    alpha, planned = 0.05, 4000
    for cases in (10, 400, 4000, 40_000):
        se = 0.37
        info = 1 / se**2
        rho2 = sequential.tuning(alpha) / (info * planned / cases)  # tightest at I*
        expected = (
            math.sqrt((1 + rho2 * info) / rho2 * 2 * math.log(math.sqrt(1 + rho2 * info) / alpha))
            / info
        )
        got = float(sequential.half_width(se, cases, planned, alpha))
        assert got == pytest.approx(expected, rel=1e-12)


def test_fixed_sample_power_matches_the_textbook_formula() -> None:
    h = power.rate_effect(0.40, 0.43)
    n = 2 * ((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) / abs(h)) ** 2
    need = power.cases_for_effect(h)
    assert need.fixed_per_arm == math.ceil(n)
    assert 4200 <= need.fixed_per_arm <= 4300  # ARCHITECTURE.md: about 4,200
    assert need.sequential_per_arm is not None and need.sequential_per_arm > need.fixed_per_arm


def test_the_power_table_turns_cases_into_days() -> None:
    rows = power.power_table(0.3, per_arm_per_day=100)
    assert [r.lift for r in rows] == [0.05, 0.10, 0.20, 0.30]
    cases = [r.need.sequential_per_arm for r in rows]
    assert cases == sorted(cases, reverse=True)
    assert rows[2].days == cases[2] / 100


def test_arm_outcomes_round_trip_through_json() -> None:
    arm = ArmOutcomes("B", 50)
    arm.add(date(2026, 3, 2), True, 12_345, 3.5, 120, disputes=True)
    arm.add(date(2026, 3, 3), False, 0, 9.0, 0)
    again = ArmOutcomes.from_json(arm.to_json())
    assert again == arm
