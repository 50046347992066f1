"""Rebuild the analytics facts from the audit trail: the check on what the engine keeps.

The engine writes the facts as it runs (engine.analytics.facts); this reads the same story
from the append-only audit trail (and the outbox for each message's cost) and counts it again.
Used to fill the facts of cases that ran before the facts existed (`mahnwerk analytics-recount`)
and by the tests, which hold the kept facts equal to the recount on a simulated portfolio.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.analytics.facts import (
    CLOSED,
    ENTERED,
    GUARDRAILS,
    LEFT,
    STOPPED,
    minor_units,
)
from engine.analytics.writes import (
    ALL_COLUMNS,
    CHANNELS,
    EXPOSURE_COLUMNS,
    EXPOSURES,
    FACTS,
    ArmKey,
    add_arm_counts,
    add_cohort_counts,
    add_step_counts,
    arm_counts_of,
    cohort_counts_of,
    cost_units,
    paid_wires,
)
from engine.run.bulk import insert_rows
from engine.storage.models import (
    ArmCountRow,
    AuditRow,
    CaseFactRow,
    CaseRow,
    CohortCountRow,
    ExposureRow,
    OutboxRow,
    StepCountRow,
    VersionRow,
)

StepKey = tuple[int, date, str, str, str]  # journey, day, node, kind, port
_CHUNK = 20_000
# The audit kinds the recount reads (each has a `_kind` method below).
_KINDS = frozenset(
    ("transition", "closed", "error", "policy", "assignment", "event", "event_ignored", "message")
)


@dataclass
class Recount:
    """The facts as counted from the audit trail: fact rows by case, exposures, step counts."""

    facts: dict[int, dict[str, Any]] = field(default_factory=dict)
    exposures: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    steps: Counter[StepKey] = field(default_factory=Counter)


def recount_facts(session: Session) -> Recount:
    """Count every case's facts, exposures and step counts again from the audit trail."""
    journey_of = dict(session.execute(select(VersionRow.id, VersionRow.journey_id)).all())
    cases = {
        row.id: row
        for row in session.execute(
            select(CaseRow.id, CaseRow.currency, CaseRow.amount_original, CaseRow.due_date)
        )
    }
    costs: dict[int, Decimal | None] = dict(
        session.execute(
            select(OutboxRow.id, OutboxRow.cost).where(OutboxRow.channel.in_(CHANNELS))
        ).all()
    )
    out = Recount()
    state = _Walk(out, cases, journey_of, costs)
    query = (
        select(
            AuditRow.case_id,
            AuditRow.version_id,
            AuditRow.node_id,
            AuditRow.kind,
            AuditRow.at,
            AuditRow.detail,
        )
        .where(AuditRow.case_id.is_not(None))
        .order_by(AuditRow.id)
        .execution_options(yield_per=_CHUNK)
    )
    for row in session.execute(query):
        state.read(*row)
    state.finish()
    return out


class _Walk:
    """Reads audit rows in order and counts what each says."""

    def __init__(
        self,
        out: Recount,
        cases: dict[int, Any],
        journey_of: dict[int, int],
        costs: dict[int, Decimal | None],
    ) -> None:
        self.out, self.cases, self.journey_of, self.costs = out, cases, journey_of, costs
        self.closed_by_port: set[int] = set()  # cases whose last transition closed them
        self.stopped: set[int] = set()
        self.transitions: dict[int, list[tuple[int, str | None, datetime, Any]]] = defaultdict(list)

    def read(
        self, case_id: int, version_id: int, node: str, kind: str, at: datetime, detail: Any
    ) -> None:
        """Count one audit row."""
        detail = detail or {}
        journey = self.journey_of.get(version_id)
        if case_id not in self.cases or journey is None:
            return
        if kind in _KINDS:
            getattr(self, f"_{kind}")(case_id, version_id, journey, node, at, detail)

    def _fact(self, case_id: int, version_id: int, journey: int, node: str, at: datetime) -> dict:
        fact = self.out.facts.get(case_id)
        if fact is None:
            case = self.cases[case_id]
            fact = self.out.facts[case_id] = {
                "case_id": case_id,
                "journey_id": journey,
                "version_id": version_id,
                "currency": case.currency,
                "original_minor": minor_units(case.amount_original, case.currency),
                "due_date": case.due_date,
                "entered_at": at,
                "collected_minor": 0,
                "payments": 0,
                "first_paid_at": None,
                "last_paid_at": None,
                "paid_full_at": None,
                "days_to_pay": None,
                **{f"messages_{c}": 0 for c in CHANNELS},
                **{f"cost_{c}": 0 for c in CHANNELS},
                **{column: 0 for column in GUARDRAILS.values()},
            }
            self.out.steps[journey, at.date(), node, ENTERED, ""] += 1
        return fact

    def _transition(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        self._fact(case_id, version_id, journey, node, at)
        day = at.date()
        self.out.steps[journey, day, node, LEFT, detail.get("port") or ""] += 1
        self.transitions[case_id].append((case_id, node, at, detail))
        if detail.get("outcome"):
            self.closed_by_port.add(case_id)
        elif detail.get("to"):
            self.out.steps[journey, day, detail["to"], ENTERED, ""] += 1

    def _closed(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        if case_id in self.closed_by_port:
            self.closed_by_port.discard(case_id)
            return
        if case_id in self.out.facts:
            self.out.steps[journey, at.date(), node, CLOSED, detail.get("outcome") or ""] += 1

    def _error(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        if case_id in self.out.facts and case_id not in self.stopped:
            self.stopped.add(case_id)
            self.out.steps[journey, at.date(), node, STOPPED, ""] += 1

    def _policy(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        if str(detail.get("action", "")).startswith("stop:"):
            self._error(case_id, version_id, journey, node, at, detail)

    def _assignment(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        self._fact(case_id, version_id, journey, node, at)
        key = (case_id, str(detail["experiment"]))
        if key not in self.out.exposures:
            self.out.exposures[key] = {
                "case_id": case_id,
                "journey_id": journey,
                "experiment": key[1],
                "node_id": node,
                "arm": str(detail["arm"]),
                "exposed_at": at,
            }

    def _event(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        self._event_ignored(case_id, version_id, journey, node, at, detail)
        fact = self.out.facts.get(case_id)
        if detail.get("event") != "payment_received" or fact is None:
            return
        before, after = Decimal(detail["open_before"]), Decimal(detail["open_after"])
        fact["collected_minor"] += minor_units(before - after, fact["currency"])
        fact["payments"] += 1
        fact["first_paid_at"] = fact["first_paid_at"] or at
        fact["last_paid_at"] = at
        if before > 0 and after <= 0 and fact["paid_full_at"] is None:
            fact["paid_full_at"] = at
            fact["days_to_pay"] = (at.date() - fact["due_date"]).days
            self.out.steps.update(paid_wires(self.transitions.get(case_id, []), {case_id: journey}))

    def _event_ignored(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        column = GUARDRAILS.get(str(detail.get("event")))
        fact = self.out.facts.get(case_id)
        if column is not None and fact is not None:
            fact[column] += 1

    def _message(
        self, case_id: int, version_id: int, journey: int, node: str, at: datetime, detail: Any
    ) -> None:
        channel = detail.get("channel")
        fact = self.out.facts.get(case_id)
        if fact is None or channel not in CHANNELS:
            return
        fact[f"messages_{channel}"] += 1
        fact[f"cost_{channel}"] += cost_units(self.costs.get(detail.get("outbox_id")))

    def finish(self) -> None:
        """Drop what was only needed while reading."""
        self.transitions.clear()


def rebuild_facts(session: Session) -> Recount:
    """Replace the stored facts, exposures and step counts with a recount (one transaction)."""
    counted = recount_facts(session)
    for model in (CaseFactRow, ExposureRow, StepCountRow, CohortCountRow, ArmCountRow):
        session.execute(delete(model))
    connection = session.connection()
    insert_rows(
        connection,
        FACTS,
        (*ALL_COLUMNS, *_PAID_COLUMNS),
        [tuple(fact[c] for c in (*ALL_COLUMNS, *_PAID_COLUMNS)) for fact in counted.facts.values()],
    )
    insert_rows(
        connection,
        EXPOSURES,
        EXPOSURE_COLUMNS,
        [tuple(e[c] for c in EXPOSURE_COLUMNS) for e in counted.exposures.values()],
    )
    add_step_counts(connection, counted.steps)
    add_cohort_counts(connection, cohort_counts_of(counted.facts.values()))
    add_arm_counts(connection, counted_arms(counted))
    return counted


def counted_arms(counted: Recount) -> Counter[ArmKey]:
    """The per-arm counters that the recounted facts and exposures add up to."""
    out: Counter[ArmKey] = Counter()
    for (case_id, _), exposure in counted.exposures.items():
        fact = counted.facts.get(case_id)
        if fact is not None:
            out.update(arm_counts_of(SimpleNamespace(**fact), SimpleNamespace(**exposure)))
    return +out


_PAID_COLUMNS = ("first_paid_at", "last_paid_at", "paid_full_at", "days_to_pay")
