"""The journey dashboard: a cohort's outcomes, summed from the cohort counters in one query.

The cohort is the cases that entered the journey in the period (by their first step's day);
the engine keeps its counters per entry day as the facts change (engine/analytics/writes.py).
Amounts are per currency (a journey's cases usually share one); rates are shares of the
cohort's cases or amounts. docs/analytics.md explains each figure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.analytics.facts import GUARDRAIL_COLUMNS
from engine.analytics.numbers import _journey, check_period, journey_numbers
from engine.analytics.writes import CHANNELS
from engine.storage.models import CohortCountRow


@dataclass
class Money:
    """A cohort's amounts in one currency (minor units)."""

    currency: str
    cases: int
    original_minor: int
    collected_minor: int

    @property
    def recovery_rate(self) -> float | None:
        """Collected as a share of what was owed when the cases entered."""
        return self.collected_minor / self.original_minor if self.original_minor else None


@dataclass
class Dashboard:
    """The dashboard's figures for one journey, period and cure window."""

    journey: str
    since: date
    until: date
    cure_days: int
    cases: int = 0
    money: list[Money] = field(default_factory=list)
    paid_full: int = 0
    paid_part: int = 0
    cured: int = 0  # paid in full within cure_days of entering
    cure_curve: list[tuple[int, int]] = field(default_factory=list)  # (day, cumulative paid)
    days_to_pay: list[tuple[int, int]] = field(default_factory=list)  # (days after due, cases)
    messages: dict[str, int] = field(default_factory=dict)
    cost: dict[str, Decimal] = field(default_factory=dict)  # per channel, settings' currency
    guardrails: dict[str, int] = field(default_factory=dict)
    flow: list[dict[str, Any]] = field(default_factory=list)  # wires between steps

    def share(self, n: int) -> float | None:
        """n as a share of the cohort."""
        return n / self.cases if self.cases else None

    @property
    def median_days_to_pay(self) -> int | None:
        """The median of days from due date to full payment, over those who paid in full."""
        total = sum(n for _, n in self.days_to_pay)
        seen = 0
        for days, n in self.days_to_pay:
            seen += n
            if 2 * seen >= total:
                return days
        return None

    @property
    def cost_total(self) -> Decimal:
        return sum(self.cost.values(), Decimal("0"))

    def to_json(self) -> dict[str, Any]:
        """As JSON for the API."""
        per_case = (lambda n: round(n / self.cases, 4)) if self.cases else (lambda n: None)
        return {
            "journey": self.journey,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "cure_days": self.cure_days,
            "cases": self.cases,
            "money": [
                {
                    "currency": m.currency,
                    "cases": m.cases,
                    "original_minor": m.original_minor,
                    "collected_minor": m.collected_minor,
                    "recovery_rate": _round(m.recovery_rate),
                }
                for m in self.money
            ],
            "paid_full": self.paid_full,
            "paid_full_rate": _round(self.share(self.paid_full)),
            "paid_part": self.paid_part,
            "paid_part_rate": _round(self.share(self.paid_part)),
            "cured": self.cured,
            "cure_rate": _round(self.share(self.cured)),
            "cure_curve": [{"day": d, "paid_full": n} for d, n in self.cure_curve],
            "days_to_pay": [{"days": d, "cases": n} for d, n in self.days_to_pay],
            "median_days_to_pay": self.median_days_to_pay,
            "messages": self.messages,
            "messages_per_case": {c: per_case(n) for c, n in self.messages.items()},
            "cost": {c: str(v) for c, v in self.cost.items()},
            "cost_per_case": None
            if not self.cases
            else str((self.cost_total / self.cases).quantize(Decimal("0.0001"))),
            "guardrails": self.guardrails,
            "flow": self.flow,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def journey_dashboard(
    session: Session, key: str, since: date, until: date, cure_days: int = 30
) -> Dashboard:
    """The dashboard of the cases that entered the journey between `since` and `until`."""
    check_period(since, until, cure_days)
    journey = _journey(session, key)
    c = CohortCountRow
    rows = session.execute(
        select(c.currency, c.metric, c.bucket, func.sum(c.value))
        .where(c.journey_id == journey.id, c.day >= since, c.day <= until)
        .group_by(c.currency, c.metric, c.bucket)
    ).all()
    out = Dashboard(key, since, until, cure_days)
    _fill(out, [(cur, metric, int(bucket), int(n or 0)) for cur, metric, bucket, n in rows])
    out.flow = [
        {"from": w.node, "port": w.port, "to": w.target, "cases": w.cases}
        for w in journey_numbers(session, key, since, until).wires
    ]
    return out


def _fill(out: Dashboard, rows: list[tuple[str, str, int, int]]) -> None:
    """The figures from the summed counters (currency, metric, bucket, value)."""
    money: dict[str, Money] = {}
    cured: dict[int, int] = defaultdict(int)
    days_to_pay: dict[int, int] = defaultdict(int)
    for currency, metric, bucket, n in rows:
        m = money.setdefault(currency, Money(currency, 0, 0, 0))
        if metric == "cases":
            m.cases += n
            out.cases += n
        elif metric == "original":
            m.original_minor += n
        elif metric == "collected":
            m.collected_minor += n
        elif metric == "paid_any":
            out.paid_part += n  # less the paid in full, below
        elif metric == "cured":
            cured[bucket] += n
        elif metric == "days_to_pay":
            days_to_pay[bucket] += n
        elif metric.startswith("messages_"):
            channel = metric.removeprefix("messages_")
            out.messages[channel] = out.messages.get(channel, 0) + n
        elif metric.startswith("cost_"):
            channel = metric.removeprefix("cost_")
            out.cost[channel] = out.cost.get(channel, Decimal("0")) + Decimal(n) / 10_000
        elif metric in GUARDRAIL_COLUMNS:
            out.guardrails[metric] = out.guardrails.get(metric, 0) + n
    out.money = sorted(money.values(), key=lambda m: -m.cases)
    out.paid_full = sum(cured.values())
    out.paid_part -= out.paid_full
    for channel in CHANNELS:
        out.messages.setdefault(channel, 0)
        out.cost.setdefault(channel, Decimal("0"))
    for column in GUARDRAIL_COLUMNS:
        out.guardrails.setdefault(column, 0)
    running = 0
    for day in range(out.cure_days + 1):
        running += cured.get(day, 0)
        out.cure_curve.append((day, running))
    out.cured = running
    out.days_to_pay = sorted(days_to_pay.items())
