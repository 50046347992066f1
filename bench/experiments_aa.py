"""Print the A/A and A/B figures of the experiments' decision rule (docs/experiments.md).

1,000 simulated experiments each, looked at once a day for 30 days: the share that ever declared
a winner with the page's always-valid confidence sequence (A/A: the false-positive rate, to stay
at or below alpha; A/B: the power) and, for contrast, with a fixed-sample z-test looked at daily.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

# Run from a checkout without installing: the repo root holds the engine package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from engine.experiments import calibration, power


def main() -> None:
    """Run the checks and print the figures (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=50, help="cases per arm per day (A/A)")
    parser.add_argument("--lift", type=float, default=0.25, help="relative paid-rate lift (A/B)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    aa = calibration.peeking(args.experiments, args.days, args.per_day, alpha=args.alpha)
    rng = np.random.default_rng(7)
    amounts = rng.lognormal(4.6, 0.8, size=400_000)
    a = np.where(rng.random(400_000) < 0.3, amounts, 0)
    b = np.where(rng.random(400_000) < 0.3 * (1 + args.lift), amounts, 0)
    need = power.cases_for_effect(power.standardised(a, b), args.alpha, 0.8)
    per_day = math.ceil((need.sequential_per_arm or 0) / args.days) or 1
    ab = calibration.peeking(
        args.experiments, args.days, per_day, lift=args.lift, alpha=args.alpha, seed=11
    )
    figures = {
        "experiments": args.experiments,
        "days": args.days,
        "alpha": args.alpha,
        "aa_per_arm_per_day": args.per_day,
        "aa_sequential_false_positives": aa.sequential_share,
        "aa_daily_z_test_false_positives": aa.fixed_share,
        "ab_lift": args.lift,
        "ab_cases_per_arm_planned": need.sequential_per_arm,
        "ab_cases_per_arm_fixed_sample": need.fixed_per_arm,
        "ab_power_any_look": ab.sequential_share,
        "ab_power_last_look": ab.final_sequential_share,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"A/A: {aa.experiments} experiments x {aa.days} daily looks, {aa.per_day} cases per arm "
        f"per day: {aa.sequential_share:.1%} declared a winner with the confidence sequence "
        f"(alpha {args.alpha:.0%}); {aa.fixed_share:.1%} with a daily fixed-sample z-test"
    )
    print(
        f"A/B: paid rate +{args.lift:.0%}, {need.sequential_per_arm} cases per arm planned for "
        f"80 % power ({need.fixed_per_arm} for a fixed-sample test): found in "
        f"{ab.sequential_share:.1%} by day {ab.days} ({ab.final_sequential_share:.1%} at the last "
        f"look alone)"
    )
    print(f"{figures['seconds']} s")


if __name__ == "__main__":
    main()
