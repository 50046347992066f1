"""Small charts as inline SVG, drawn on the server: no chart library, nothing to download.

Pure: figures in, markup out. Colours come from CSS classes (series-<name>) in app.css.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 40, 24, 10


def _nice_max(value: float) -> int:
    """A round axis maximum at or above `value`."""
    if value <= 5:
        return 5
    step = 10 ** (len(str(int(value))) - 1)
    return int(-(-value // step) * step)


def stacked_days(per_day: list[dict[str, Any]], key: str, series: list[str], title: str) -> Markup:
    """Stacked bars per day, one colour per series (e.g. messages per day by channel)."""
    totals = [sum(day.get(key, {}).get(s, 0) for s in series) for day in per_day]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(per_day), 1)
    bar_w = max(slot * 0.75, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        _axis(top, plot_h),
    ]
    for i, day in enumerate(per_day):
        y = PAD_TOP + plot_h
        for s in series:
            count = day.get(key, {}).get(s, 0)
            if not count:
                continue
            h = plot_h * count / top
            y -= h
            x = PAD_LEFT + i * slot + (slot - bar_w) / 2
            parts.append(
                f'<rect class="series-{escape(s)}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(_day_label(day))}: {count} {escape(s)}'
                f"</title></rect>"
            )
        if i % max(len(per_day) // 10, 1) == 0:
            x = PAD_LEFT + i * slot + slot / 2
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                f"{day.get('day', i + 1)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _day_label(day: dict[str, Any]) -> str:
    return f"day {day.get('day', '?')}"


def _axis(top: int, plot_h: float) -> str:
    lines = []
    for frac in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - frac)
        lines.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{round(top * frac)}</text>"
        )
    return "".join(lines)


def horizontal_bars(counts: dict[str, int], title: str, labels: dict[str, str]) -> Markup:
    """One bar per category with its count (e.g. outcomes)."""
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    row, label_w, width = 28, 170, WIDTH
    height = max(len(items), 1) * row + 8
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (name, count) in enumerate(items):
        y = 4 + i * row
        w = (width - label_w - 60) * count / top
        css = escape(name.split(":")[0])
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 17}" text-anchor="end">'
            f"{escape(labels.get(name, name))}</text>"
            f'<rect class="outcome-{css}" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="18"/>'
            f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + 17}">{count}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def time_to_pay(curves: list[tuple[str, Any]], title: str, x_label: str, y_label: str) -> Markup:
    """Kaplan-Meier curves as steps: per arm, the share of cases paid by each day (1 - S(t)),
    with its confidence band shaded. `curves` holds (arm, curve) with curve.days, .unpaid,
    .low and .high (engine.experiments.stats.Curve); the page shows the same as a table."""
    last = max((c.days[-1] for _, c in curves if c is not None and c.days), default=1.0)
    right = max(float(_nice_max(last)), 1.0)
    top_share = max((1 - min(c.low) for _, c in curves if c is not None and c.low), default=0.0)
    top = max(_nice_max(top_share * 100), 5)
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP

    def x(day: float) -> float:
        return PAD_LEFT + plot_w * min(day, right) / right

    def y(share: float) -> float:
        return PAD_TOP + plot_h * (1 - min(share * 100, top) / top)

    parts = [
        f'<svg class="chart km" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        _axis(top, plot_h),
        *(
            f'<text class="tick" x="{x(right * f):.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
            f"{right * f:g}</text>"
            for f in (0, 0.25, 0.5, 0.75)
        ),
        f'<text class="tick" x="{WIDTH - 8}" y="{HEIGHT - 6}" text-anchor="end">'
        f"{right:g} {escape(x_label)}</text>",
        f'<text class="tick" x="{PAD_LEFT}" y="{PAD_TOP - 1}">{escape(y_label)} %</text>',
    ]
    for i, (arm, curve) in enumerate(curves):
        if curve is None:
            continue
        steps = _steps(curve.days, [1 - u for u in curve.unpaid])
        upper = _steps(curve.days, [1 - lo for lo in curve.low])
        lower = _steps(curve.days, [1 - hi for hi in curve.high])
        band = [f"{x(d):.1f},{y(s):.1f}" for d, s in upper] + [
            f"{x(d):.1f},{y(s):.1f}" for d, s in reversed(lower)
        ]
        line = " ".join(f"{x(d):.1f},{y(s):.1f}" for d, s in steps)
        parts.append(
            f'<g class="arm arm-{i % 6}"><title>{escape(arm)}</title>'
            f'<polygon class="band" points="{" ".join(band)}"/>'
            f'<polyline class="curve" points="{line} {x(right):.1f},{y(steps[-1][1]):.1f}"/>'
            f"</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _steps(days: list[float], shares: list[float]) -> list[tuple[float, float]]:
    """A step function from (0, 0): flat until each day, then up to the new share."""
    points, level = [(0.0, 0.0)], 0.0
    for day, share in zip(days, shares, strict=True):
        points.append((day, level))
        points.append((day, share))
        level = share
    return points


def curve(points: list[tuple[int, float]], title: str, x_label: str) -> Markup:
    """A rising line of shares 0..1 over days (e.g. the cure curve), with a dot per day."""
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    last = max((x for x, _ in points), default=1) or 1
    top = max(min(1.0, -(-max((y for _, y in points), default=0) * 10 // 1) / 10), 0.1)

    def at(x: int, y: float) -> tuple[float, float]:
        return PAD_LEFT + plot_w * x / last, PAD_TOP + plot_h * (1 - y / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for frac in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{round(top * frac * 100)} %</text>"
        )
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(px, py) for px, py in points))
    parts.append(f'<polyline class="series-line" fill="none" points="{line}"/>')
    for px, py in points:
        x, y = at(px, py)
        parts.append(
            f'<circle class="series-line" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
            f"<title>{escape(x_label)} {px}: {py * 100:.1f} %</title></circle>"
        )
    for px in {0, last // 2, last}:
        x, _ = at(px, 0)
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - 6}" text-anchor="middle">{px}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(points: list[tuple[int, int]], title: str, x_label: str) -> Markup:
    """One column per value of x (e.g. cases by days from due date to payment)."""
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    top = _nice_max(max((n for _, n in points), default=0))
    slot = plot_w / max(len(points), 1)
    bar_w = max(slot * 0.75, 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        _axis(top, plot_h),
    ]
    for i, (x_value, n) in enumerate(points):
        h = plot_h * n / top
        x = PAD_LEFT + i * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect class="series-bar" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" '
            f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(x_label)} {x_value}: {n}'
            f"</title></rect>"
        )
        if i % max(len(points) // 10, 1) == 0:
            parts.append(
                f'<text class="tick" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" '
                f'text-anchor="middle">{x_value}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
