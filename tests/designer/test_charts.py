"""The time-to-pay chart: one step curve and band per arm, names escaped, empty arms skipped."""

from __future__ import annotations

from designer import charts
from engine.experiments.stats import Curve


def test_one_curve_per_arm_rising_as_cases_pay() -> None:
    curve = Curve([2.0, 5.0], [0.9, 0.6], [0.8, 0.5], [0.95, 0.7], None)
    svg = str(charts.time_to_pay([("A", curve), ("<B>", curve), ("C", None)], "T", "days", "paid"))
    assert svg.count('<polyline class="curve"') == 2 and svg.count('class="band"') == 2
    assert "&lt;B&gt;" in svg and "<B>" not in svg
    assert 'role="img"' in svg and "<title>T</title>" in svg


def test_the_step_function_starts_at_zero_and_climbs_at_each_payment_day() -> None:
    assert charts._steps([2.0, 5.0], [0.1, 0.4]) == [
        (0.0, 0.0),
        (2.0, 0.0),
        (2.0, 0.1),
        (5.0, 0.1),
        (5.0, 0.4),
    ]
