"""The journey's numbers, read from the facts the engine keeps: canvas numbers and dashboard.

Canvas numbers count what happened at each step in a period (by day, from step_counts);
waiting now is every case that entered a step and has not left, closed or stopped there.
The dashboard follows a cohort: the cases that entered the journey in the period, read from
case_facts. Every number is explained in docs/analytics.md.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from engine.analytics.facts import CLOSED, ENTERED, LEFT, PAID, STOPPED
from engine.storage.models import (
    JourneyRow,
    StepCountRow,
    VersionRow,
)

MAX_PERIOD_DAYS = 3660  # ten years: longer periods are refused, naming the field
MAX_CURE_DAYS = 365


class PeriodError(ValueError):
    """A period or parameter the numbers cannot be read for; `field` names the culprit."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def check_period(since: date, until: date, cure_days: int = 30) -> None:
    """Refuse a period that ends before it starts or spans more than ten years."""
    if until < since:
        raise PeriodError("until", "must not be before since")
    if (until - since).days > MAX_PERIOD_DAYS:
        raise PeriodError("since", f"the period may span at most {MAX_PERIOD_DAYS} days")
    if not 1 <= cure_days <= MAX_CURE_DAYS:
        raise PeriodError("cure_days", f"must be between 1 and {MAX_CURE_DAYS}")


@dataclass
class StepNumbers:
    """One step's numbers: in the period, and waiting there now."""

    entered: int = 0
    waiting: int = 0
    stopped: int = 0
    left: dict[str, int] = field(default_factory=dict)  # by port
    closed: dict[str, int] = field(default_factory=dict)  # by outcome
    paid: dict[str, int] = field(default_factory=dict)  # left by port and later paid in full


@dataclass
class Wire:
    """A wire of the canvas: the cases that left `node` by `port` in the period."""

    node: str
    port: str
    target: str | None
    cases: int
    paid: int
    share: float  # of all cases that left `node` in the period (the wire's thickness)

    @property
    def paid_share(self) -> float | None:
        """The share of them that paid in full (so far); None when none left by it."""
        return self.paid / self.cases if self.cases else None


@dataclass
class JourneyNumbers:
    """The canvas overlay: per step and per wire, for one period."""

    journey: str
    since: date
    until: date
    steps: dict[str, StepNumbers]
    wires: list[Wire]

    def to_json(self) -> dict[str, Any]:
        """As JSON for the canvas and the API."""
        return {
            "journey": self.journey,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "steps": {
                node: {
                    "entered": s.entered,
                    "waiting": s.waiting,
                    "stopped": s.stopped,
                    "left": s.left,
                    "closed": s.closed,
                }
                for node, s in sorted(self.steps.items())
            },
            "wires": [
                {
                    "node": w.node,
                    "port": w.port,
                    "target": w.target,
                    "cases": w.cases,
                    "share": round(w.share, 4),
                    "paid": w.paid,
                    "paid_share": None if w.paid_share is None else round(w.paid_share, 4),
                }
                for w in self.wires
            ],
        }


def _journey(session: Session, key: str) -> JourneyRow:
    row = session.scalar(select(JourneyRow).where(JourneyRow.key == key))
    if row is None:
        raise LookupError(key)
    return row


def _edges(session: Session, journey: JourneyRow, number: int | None) -> list[dict[str, Any]]:
    """The wires of the version shown (a given number, else the newest published, else newest)."""
    query = select(VersionRow.document).where(VersionRow.journey_id == journey.id)
    if number is not None:
        query = query.where(VersionRow.number == number)
    else:
        published_first = case((VersionRow.status == "published", 0), else_=1)
        query = query.order_by(published_first, VersionRow.number.desc())
    document = session.scalar(query.limit(1))
    return list((document or {}).get("edges", []))


def journey_numbers(
    session: Session, key: str, since: date, until: date, version: int | None = None
) -> JourneyNumbers:
    """Per step entered, left by port, closed, waiting now; per wire its share and paid share."""
    check_period(since, until)
    journey = _journey(session, key)
    c = StepCountRow
    steps: dict[str, StepNumbers] = defaultdict(StepNumbers)
    rows = session.execute(
        select(c.node_id, c.kind, c.port, func.sum(c.cases))
        .where(c.journey_id == journey.id, c.day >= since, c.day <= until)
        .group_by(c.node_id, c.kind, c.port)
    )
    for node, kind, port, n in rows:
        step, n = steps[node], int(n)
        if kind == ENTERED:
            step.entered += n
        elif kind == STOPPED:
            step.stopped += n
        else:
            bucket = {LEFT: step.left, CLOSED: step.closed, PAID: step.paid}[kind]
            bucket[port] = bucket.get(port, 0) + n
    signed = case(
        (c.kind == ENTERED, c.cases),
        (c.kind.in_((LEFT, CLOSED, STOPPED)), -c.cases),
        else_=literal(0),
    )
    for node, waiting in session.execute(
        select(c.node_id, func.sum(signed)).where(c.journey_id == journey.id).group_by(c.node_id)
    ):
        steps[node].waiting = int(waiting or 0)
    return JourneyNumbers(
        key, since, until, dict(steps), _wires(steps, _edges(session, journey, version))
    )


def _wires(steps: dict[str, StepNumbers], edges: list[dict[str, Any]]) -> list[Wire]:
    targets = {(e.get("from"), e.get("port") or "next"): e.get("to") for e in edges}
    wires = []
    for node, step in sorted(steps.items()):
        total = sum(step.left.values())
        for port, n in sorted(step.left.items()):
            wires.append(
                Wire(node, port, targets.get((node, port)), n, step.paid.get(port, 0), n / total)
            )
    return wires
