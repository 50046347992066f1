"""What the statistics read: per experiment arm, one row per exposed case (columns, not objects).

This is the seam between where outcomes come from and what is computed from them. Today the
simulation fills it (engine.experiments.from_simulation); the outcome facts the engine writes
as it runs (engine/analytics) fill the same columns later, so the page, the verdict and the
tests do not change when the source does. Columns are plain lists so a result travels as JSON
(a simulation job stores it) and numpy reads them without copying field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

GUARDRAILS = ("disputes", "opt_outs", "complaints", "bounces")


class OutcomeError(ValueError):
    """Outcome columns that do not fit together; names the arm and the column."""


@dataclass
class ArmOutcomes:
    """One arm's exposed cases: when exposed, whether and how much paid, how fast, at what cost.

    - `exposed_on`: the day the case entered the split (the exposure);
    - `paid`: paid in full or in part after exposure;
    - `collected_minor`: amount collected after exposure, in minor units of `currency`;
    - `days`: days from exposure to the first payment when `paid`, else the days observed so
      far (the case is still open or closed unpaid: censored);
    - `cost_minor`: what the messages sent to the case after exposure cost, in minor units;
    - `guardrails`: per guardrail (GUARDRAILS) whether it happened to the case.
    """

    arm: str
    weight: float  # configured share in percent
    holdout: bool = False
    currency: str = "EUR"
    exposed_on: list[date] = field(default_factory=list)
    paid: list[bool] = field(default_factory=list)
    collected_minor: list[int] = field(default_factory=list)
    days: list[float] = field(default_factory=list)
    cost_minor: list[int] = field(default_factory=list)
    guardrails: dict[str, list[bool]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in GUARDRAILS:
            self.guardrails.setdefault(name, [False] * len(self.paid))
        self.check()

    @property
    def cases(self) -> int:
        """How many cases were exposed to this arm."""
        return len(self.paid)

    def add(
        self,
        exposed_on: date,
        paid: bool,
        collected_minor: int,
        days: float,
        cost_minor: int = 0,
        **guardrails: bool,
    ) -> None:
        """Append one exposed case."""
        unknown = set(guardrails) - set(GUARDRAILS)
        if unknown:
            raise OutcomeError(f"{self.arm}: unknown guardrail {sorted(unknown)[0]!r}")
        self.exposed_on.append(exposed_on)
        self.paid.append(bool(paid))
        self.collected_minor.append(int(collected_minor))
        self.days.append(float(days))
        self.cost_minor.append(int(cost_minor))
        for name in GUARDRAILS:
            self.guardrails[name].append(bool(guardrails.get(name, False)))

    def check(self) -> None:
        """Raise OutcomeError naming the arm and column when the columns disagree or lie."""
        n = len(self.paid)
        columns: dict[str, list[Any]] = {
            "exposed_on": self.exposed_on,
            "collected_minor": self.collected_minor,
            "days": self.days,
            "cost_minor": self.cost_minor,
            **{f"guardrails.{k}": v for k, v in self.guardrails.items()},
        }
        for name, column in columns.items():
            if len(column) != n:
                raise OutcomeError(f"{self.arm}: column {name} has {len(column)} rows, not {n}")
        if any(d < 0 for d in self.days):
            raise OutcomeError(f"{self.arm}: column days has a negative value")
        if any(c < 0 for c in self.collected_minor) or any(c < 0 for c in self.cost_minor):
            raise OutcomeError(f"{self.arm}: amounts must not be negative")
        if not 0 <= self.weight <= 100:
            raise OutcomeError(f"{self.arm}: weight {self.weight} is not between 0 and 100")

    def to_json(self) -> dict[str, Any]:
        """The arm as JSON (dates as ISO strings)."""
        return {
            "arm": self.arm,
            "weight": self.weight,
            "holdout": self.holdout,
            "currency": self.currency,
            "exposed_on": [d.isoformat() for d in self.exposed_on],
            "paid": self.paid,
            "collected_minor": self.collected_minor,
            "days": self.days,
            "cost_minor": self.cost_minor,
            "guardrails": self.guardrails,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArmOutcomes:
        """An arm read back from `to_json`."""
        return cls(
            arm=str(data["arm"]),
            weight=float(data["weight"]),
            holdout=bool(data.get("holdout", False)),
            currency=str(data.get("currency", "EUR")),
            exposed_on=[date.fromisoformat(d) for d in data["exposed_on"]],
            paid=[bool(p) for p in data["paid"]],
            collected_minor=[int(c) for c in data["collected_minor"]],
            days=[float(d) for d in data["days"]],
            cost_minor=[int(c) for c in data["cost_minor"]],
            guardrails={k: [bool(x) for x in v] for k, v in data.get("guardrails", {}).items()},
        )


@dataclass
class ExperimentOutcomes:
    """One split node's experiment: its arms (the first non-holdout arm is the control)."""

    experiment: str
    node_id: str
    as_of: date
    arms: list[ArmOutcomes]
    min_runtime_days: float = 0.0  # one full journey cycle after the split (minimum_runtime)
    started_on: date | None = None

    @property
    def control(self) -> ArmOutcomes:
        """The arm the others are compared with: the first arm that is not the holdout."""
        return next(a for a in self.arms if not a.holdout)

    @property
    def holdout(self) -> ArmOutcomes | None:
        """The holdout arm, if the split has one."""
        return next((a for a in self.arms if a.holdout), None)

    @property
    def variants(self) -> list[ArmOutcomes]:
        """The treated arms after the control."""
        return [a for a in self.arms if not a.holdout and a is not self.control]

    def to_json(self) -> dict[str, Any]:
        """The experiment as JSON."""
        return {
            "experiment": self.experiment,
            "node_id": self.node_id,
            "as_of": self.as_of.isoformat(),
            "started_on": self.started_on.isoformat() if self.started_on else None,
            "min_runtime_days": self.min_runtime_days,
            "arms": [a.to_json() for a in self.arms],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExperimentOutcomes:
        """An experiment read back from `to_json`."""
        started = data.get("started_on")
        return cls(
            experiment=str(data["experiment"]),
            node_id=str(data["node_id"]),
            as_of=date.fromisoformat(data["as_of"]),
            started_on=date.fromisoformat(started) if started else None,
            min_runtime_days=float(data.get("min_runtime_days", 0)),
            arms=[ArmOutcomes.from_json(a) for a in data["arms"]],
        )
