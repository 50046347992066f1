"""Each statistic against a reference calculation made independently with scipy/numpy."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from engine.experiments import stats
from engine.experiments.outcomes import ArmOutcomes, OutcomeError

DAY = date(2026, 3, 2)


def arm(
    name: str,
    paid: list[bool],
    collected: list[int] | None = None,
    days: list[float] | None = None,
    cost: list[int] | None = None,
    weight: float = 50,
) -> ArmOutcomes:
    n = len(paid)
    return ArmOutcomes(
        name,
        weight,
        exposed_on=[DAY] * n,
        paid=paid,
        collected_minor=collected if collected is not None else [10_000 * p for p in paid],
        days=days if days is not None else [float(i % 20) for i in range(n)],
        cost_minor=cost if cost is not None else [50] * n,
    )


@given(st.integers(1, 2000), st.data())
def test_paid_rate_is_the_wilson_interval(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n))
    got = stats.paid_rate(arm("A", [True] * k + [False] * (n - k)))
    z = sps.norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert got is not None
    assert got.value == pytest.approx(p)
    assert got.low == pytest.approx(centre - half, abs=1e-9)
    assert got.high == pytest.approx(centre + half, abs=1e-9)


amounts = st.lists(st.integers(0, 5_000_000), min_size=2, max_size=300)


@given(amounts)
def test_amount_per_case_is_the_t_interval(collected: list[int]) -> None:
    values = np.array(collected) / 100
    got = stats.amount_per_case(arm("A", [c > 0 for c in collected], collected))
    assert got is not None
    assert got.value == pytest.approx(values.mean())
    if values.std() > 0:
        low, high = sps.t.interval(0.95, len(values) - 1, values.mean(), sps.sem(values))
        assert (got.low, got.high) == pytest.approx((low, high), rel=1e-9, abs=1e-9)


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 100_000)), min_size=3, max_size=200))
def test_cost_per_euro_is_the_delta_method_of_a_linearised_ratio(pairs: list) -> None:
    cost = np.array([c for c, _ in pairs], dtype=float) / 100
    got_ = np.array([g for _, g in pairs], dtype=float) / 100
    a = arm("A", [True] * len(pairs), [g for _, g in pairs], cost=[c for c, _ in pairs])
    got = stats.cost_per_unit_collected(a)
    ratio = cost.sum() / got_.sum()
    # The linearisation: the ratio's error is the mean of (cost - R collected) / mean(collected).
    residual = (cost - ratio * got_) / got_.mean()
    half = sps.norm.ppf(0.975) * sps.sem(residual)
    assert got is not None
    assert got.value == pytest.approx(ratio)
    assert got.high == pytest.approx(ratio + half, rel=1e-6, abs=1e-12)
    assert got.low == pytest.approx(max(ratio - half, 0), rel=1e-6, abs=1e-12)


def product_limit(days: np.ndarray, paid: np.ndarray) -> dict[float, float]:
    """Kaplan and Meier (1958) by hand: at each payment day, S *= 1 - paid / at risk."""
    s, curve = 1.0, {}
    for t in np.unique(days[paid == 1]):
        at_risk = (days >= t).sum()
        events = ((days == t) & (paid == 1)).sum()
        s *= 1 - events / at_risk
        curve[float(t)] = s
    return curve


@given(st.lists(st.tuples(st.integers(0, 60), st.booleans()), min_size=3, max_size=200))
def test_time_to_pay_is_the_product_limit_estimate(rows: list) -> None:
    days = np.array([d for d, _ in rows], dtype=float)
    paid = np.array([p for _, p in rows], dtype=int)
    curve = stats.time_to_pay(arm("A", [bool(p) for p in paid], days=list(days)))
    assert curve is not None
    expected = product_limit(days, paid)
    if not expected:
        assert curve.unpaid == [1.0]
        return
    assert dict(zip(curve.days, curve.unpaid, strict=True)) == pytest.approx(expected)


def log_rank_by_hand(groups: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Two-group log-rank (Mantel 1966): (O - E)^2 / V summed over event times."""
    (d1, e1), (d2, e2) = groups
    days, paid = np.concatenate([d1, d2]), np.concatenate([e1, e2])
    o_minus_e, var = 0.0, 0.0
    for t in np.unique(days[paid == 1]):
        n1, n = (d1 >= t).sum(), (days >= t).sum()
        d = ((days == t) & (paid == 1)).sum()
        o1 = ((d1 == t) & (e1 == 1)).sum()
        o_minus_e += o1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    return o_minus_e**2 / var if var > 0 else math.inf


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=5, max_size=80),
    st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=5, max_size=80),
)
def test_log_rank_matches_the_textbook_statistic(one: list, two: list) -> None:
    arms = [
        arm(n, [p for _, p in rows], days=[float(d) for d, _ in rows])
        for n, rows in (("A", one), ("B", two))
    ]
    result = stats.log_rank(arms)
    if not any(p for _, p in one + two):
        assert result is None
        return
    groups = [
        (np.array([d for d, _ in rows], dtype=float), np.array([p for _, p in rows], dtype=int))
        for rows in (one, two)
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = log_rank_by_hand(groups)
    if result is None:  # undefined: no variance between the arms at any payment
        assert not math.isfinite(chi2)
        return
    if math.isfinite(chi2):
        assert result.chi2 == pytest.approx(chi2, rel=1e-6, abs=1e-9)
        assert result.p_value == pytest.approx(sps.chi2.sf(chi2, 1), rel=1e-6, abs=1e-12)


@given(st.integers(1, 5000), st.integers(1, 5000), st.floats(10, 90))
def test_sample_ratio_is_pearsons_chi_square_against_the_weights(
    a: int, b: int, weight: float
) -> None:
    arms = [arm("A", [False] * a, weight=weight), arm("B", [False] * b, weight=100 - weight)]
    srm = stats.sample_ratio(arms)
    total = a + b
    expected = np.array([total * weight / 100, total * (100 - weight) / 100])
    chi2 = (((np.array([a, b]) - expected) ** 2) / expected).sum()
    assert srm is not None
    assert srm.chi2 == pytest.approx(chi2, rel=1e-9, abs=1e-9)
    assert srm.p_value == pytest.approx(sps.chi2.sf(chi2, 1), rel=1e-6, abs=1e-300)
    assert srm.broken == (srm.p_value < 0.001)


def test_a_broken_split_is_flagged() -> None:
    srm = stats.sample_ratio([arm("A", [False] * 1000), arm("B", [False] * 850)])
    assert srm is not None and srm.broken


@given(amounts, amounts)
def test_the_difference_of_means_uses_the_welch_standard_error(a: list[int], b: list[int]) -> None:
    control, variant = np.array(a) / 100, np.array(b) / 100
    diff = stats.mean_difference(control, variant, 0.05, 4000)
    se = math.sqrt(control.var(ddof=1) / len(a) + variant.var(ddof=1) / len(b))
    assert diff.absolute.value == pytest.approx(variant.mean() - control.mean())
    if se > 0:
        from engine.experiments.sequential import multiplier

        width = se * float(multiplier(len(a) + len(b), 4000, 0.05))
        assert diff.absolute.high - diff.absolute.value == pytest.approx(width, rel=1e-9)
        # Always wider than the fixed-sample 95 % interval: that is the price of peeking.
        assert width > sps.norm.ppf(0.975) * se


def test_incremental_money_scales_the_difference_to_the_arm() -> None:
    treated = arm("A", [True] * 50 + [False] * 50)
    holdout = arm("holdout", [True] * 20 + [False] * 80)
    money = stats.incremental_money(treated, holdout)
    assert money is not None
    # 100 cases x (50 - 20) EUR per case.
    assert money.value == pytest.approx(3000)
    assert money.low < money.value < money.high


def test_guardrail_worse_only_when_its_interval_is_wholly_above_zero() -> None:
    control = arm("A", [False] * 2000)
    variant = arm("B", [False] * 2000)
    variant.guardrails["disputes"] = [i < 200 for i in range(2000)]
    control.guardrails["disputes"] = [i < 20 for i in range(2000)]
    found = {g.name: g for g in stats.guardrails(control, variant)}
    assert found["disputes"].worse
    assert not found["opt_outs"].worse


def test_outcome_columns_that_disagree_name_the_arm_and_column() -> None:
    with pytest.raises(OutcomeError, match="B: column days has 1 rows, not 2"):
        ArmOutcomes(
            "B",
            50,
            paid=[True, False],
            exposed_on=[DAY, DAY],
            days=[1.0],
            collected_minor=[1, 0],
            cost_minor=[0, 0],
        )
    with pytest.raises(OutcomeError, match="unknown guardrail"):
        arm("A", []).add(DAY, True, 100, 1.0, fraud=True)
