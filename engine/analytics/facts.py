"""What one tick batch adds to the analytics facts, gathered in memory (pure: no SQL).

The runtime calls these as it moves cases; engine.analytics.writes turns them into a few
set-based statements in the batch's own transaction. Counting a step is a dict increment, so
the hot path pays almost nothing for it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from engine.core.state import CaseState

# Events that count as guardrails, by the fact column they add to. A complaint is the debtor
# asking to be left alone (cease_contact): the strongest signal a journey pushes too hard.
GUARDRAILS = {
    "dispute_opened": "disputes",
    "opted_out": "opt_outs",
    "cease_contact": "complaints",
    "message_bounced": "bounces",
}
GUARDRAIL_COLUMNS = ("disputes", "opt_outs", "complaints", "bounces")
# Step count kinds: entered a node; left it by a port; closed there (port: the outcome);
# stopped there for a person; left by a port and later paid in full (day: the day it left).
ENTERED, LEFT, CLOSED, STOPPED, PAID = "entered", "left", "closed", "stopped", "paid"


def minor_units(amount: Decimal, currency: str) -> int:
    """An amount in its currency's minor units (cents); the engine keeps two decimals."""
    del currency  # every case amount has two decimals (engine/intake/cases.py checks it)
    return int((amount * 100).to_integral_value())


@dataclass(slots=True)
class CaseChange:
    """What events did to one case's facts in a batch (added to what is stored)."""

    collected_minor: int = 0
    payments: int = 0
    first_paid_at: datetime | None = None
    last_paid_at: datetime | None = None
    paid_full_at: datetime | None = None
    days_to_pay: int | None = None
    disputes: int = 0
    opt_outs: int = 0
    complaints: int = 0
    bounces: int = 0


@dataclass
class FactWrites:
    """A batch's additions to the facts, keyed by version id (the writer maps it to journeys)."""

    started: list[int] = field(default_factory=list)  # case ids; their rows come from SQL
    exposures: list[tuple[int, int, str, str, str, datetime]] = field(default_factory=list)
    steps: Counter[tuple[int, str, str, str]] = field(default_factory=Counter)
    changes: dict[int, CaseChange] = field(default_factory=dict)
    paid_in_full: dict[int, int] = field(default_factory=dict)  # case id -> version id

    def start(self, cs: CaseState) -> None:
        """The case entered its journey: its fact row begins (copied from its case row)."""
        self.started.append(cs.id)

    def expose(self, cs: CaseState, experiment: str, arm: str, at: datetime) -> None:
        """The case entered a split node of an experiment for the first time."""
        self.exposures.append((cs.id, cs.version_id, experiment, cs.node_id, arm, at))

    def step(self, cs: CaseState, kind: str, port: str = "") -> None:
        """Count the case at its node: entered, left by `port`, closed (`port`: outcome)..."""
        self.steps[cs.version_id, cs.node_id, kind, port] += 1

    def _change(self, case_id: int) -> CaseChange:
        change = self.changes.get(case_id)
        if change is None:
            change = self.changes[case_id] = CaseChange()
        return change

    def payment(self, cs: CaseState, before: Decimal, at: datetime) -> None:
        """A payment was applied: what it took off the open amount is collected."""
        change = self._change(cs.id)
        change.collected_minor += minor_units(before - cs.amount_open, cs.currency)
        change.payments += 1
        change.first_paid_at = change.first_paid_at or at
        change.last_paid_at = at
        if before > 0 and cs.amount_open <= 0:
            change.paid_full_at = at
            change.days_to_pay = (at.date() - cs.due_date).days
            self.paid_in_full[cs.id] = cs.version_id

    def guardrail(self, case_id: int, event_type: str) -> None:
        """A dispute, opt-out, complaint or bounce, counted on the case's facts."""
        column = GUARDRAILS.get(event_type)
        if column is not None:
            change = self._change(case_id)
            setattr(change, column, getattr(change, column) + 1)

    def __bool__(self) -> bool:
        return bool(self.started or self.exposures or self.steps or self.changes)
