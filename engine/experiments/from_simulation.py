"""ArmOutcomes from a finished simulation's database: the seam's first source.

Reads the simulation's own tables after its last day: the `assignment` audit rows (exposure:
which case entered which split when), the `event` audit rows of payments the runtime applied
after exposure (paid, what each took off the open amount, days to pay; a payment that reached
a closed case was ignored by the engine and counts for nothing), the messages handed to a
channel after exposure (cost: the provider's cost where the connector reported one, else
DEFAULT_COSTS), and the guardrail events.
A case not paid by the end is censored at the days it was observed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import as_utc
from engine.experiments.cycle import minimum_runtime
from engine.experiments.outcomes import ArmOutcomes, ExperimentOutcomes
from engine.nodes.split import HOLDOUT, arm_weights
from engine.storage.db import in_chunks
from engine.storage.models import CONTACT_STATUSES, AuditRow, CaseRow, OutboxRow

# What a message costs when the connector reports nothing (sandboxes): typical German prices,
# in the case's currency (docs/experiments.md); the live facts read the delivery settings.
DEFAULT_COSTS = {
    "email": Decimal("0.01"),
    "sms": Decimal("0.075"),
    "letter": Decimal("0.95"),
    "webhook": Decimal("0"),
}
# Case events that count against a guardrail.
GUARDRAIL_EVENTS = {
    "dispute_opened": "disputes",
    "opted_out": "opt_outs",
    "cease_contact": "complaints",
    "message_bounced": "bounces",
}


def _paid(detail: dict[str, Any]) -> Decimal:
    """What an applied payment took off the open amount (an overpayment counts as open)."""
    try:
        return max(Decimal(str(detail["open_before"])) - Decimal(str(detail["open_after"])), 0)
    except (KeyError, InvalidOperation):
        return Decimal(0)


def _days(since: datetime, until: datetime) -> float:
    return max((as_utc(until) - as_utc(since)).total_seconds() / 86400, 0.0)


def split_outcomes(
    session: Session, doc: dict[str, Any], version_id: int, now: datetime
) -> list[ExperimentOutcomes]:
    """One ExperimentOutcomes per split node of the document, observed up to `now`."""
    found = []
    for node in doc.get("nodes", []):
        if node.get("type") == "split":
            found.append(_one(session, doc, node, version_id, now))
    return found


def _one(
    session: Session, doc: dict[str, Any], node: dict[str, Any], version_id: int, now: datetime
) -> ExperimentOutcomes:
    experiment = node["params"]["experiment"]
    exposures: dict[int, tuple[str, datetime]] = {}
    for case_id, at, detail in session.execute(
        select(AuditRow.case_id, AuditRow.at, AuditRow.detail)
        .where(AuditRow.kind == "assignment", AuditRow.version_id == version_id)
        .order_by(AuditRow.id)
    ):
        if (detail or {}).get("experiment") == experiment and case_id not in exposures:
            exposures[case_id] = (str(detail["arm"]), at)
    facts = _facts(session, set(exposures))
    currency = doc.get("currency", "EUR")
    arms = {
        name: ArmOutcomes(name, weight, holdout=name == HOLDOUT, currency=currency)
        for name, weight in arm_weights(node["params"])
    }
    for case_id, (arm, exposed) in sorted(exposures.items()):
        target = arms.get(arm)
        if target is None:  # an arm removed from the split since: not part of this comparison
            continue
        _add(target, facts[case_id], exposed, now)
    started = min((at for _, at in exposures.values()), default=now)
    return ExperimentOutcomes(
        experiment=experiment,
        node_id=node["id"],
        as_of=as_utc(now).date(),
        started_on=as_utc(started).date(),
        arms=list(arms.values()),
        min_runtime_days=minimum_runtime(doc, node["id"]),
    )


def _facts(session: Session, case_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Per case: original amount, payments, messages and guardrail events with their times."""
    facts: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"original": Decimal(0), "payments": [], "messages": [], "events": []}
    )
    for chunk in in_chunks(sorted(case_ids)):
        for case_id, original in session.execute(
            select(CaseRow.id, CaseRow.amount_original).where(CaseRow.id.in_(chunk))
        ):
            facts[case_id]["original"] = Decimal(str(original))
        for case_id, detail, at in session.execute(
            select(AuditRow.case_id, AuditRow.detail, AuditRow.at).where(
                AuditRow.case_id.in_(chunk), AuditRow.kind == "event"
            )
        ):
            kind = (detail or {}).get("event")
            if kind == "payment_received":
                facts[case_id]["payments"].append((at, _paid(detail)))
            elif kind in GUARDRAIL_EVENTS:
                facts[case_id]["events"].append((at, GUARDRAIL_EVENTS[kind]))
        for case_id, channel, cost, at in session.execute(
            select(
                OutboxRow.case_id, OutboxRow.channel, OutboxRow.cost, OutboxRow.created_at
            ).where(OutboxRow.case_id.in_(chunk), OutboxRow.status.in_(CONTACT_STATUSES))
        ):
            price = Decimal(str(cost)) if cost is not None else DEFAULT_COSTS.get(channel, 0)
            facts[case_id]["messages"].append((at, price))
    return facts


def _add(arm: ArmOutcomes, fact: dict[str, Any], exposed: datetime, now: datetime) -> None:
    payments = sorted((at, amt) for at, amt in fact["payments"] if at >= exposed)
    collected = min(sum((amt for _, amt in payments), Decimal(0)), fact["original"])
    paid = collected > 0
    days = _days(exposed, payments[0][0]) if paid else _days(exposed, now)
    cost = sum((p for at, p in fact["messages"] if at >= exposed), Decimal(0))
    flags = {name: True for at, name in fact["events"] if at >= exposed}
    arm.add(
        exposed_on=as_utc(exposed).date(),
        paid=paid,
        collected_minor=int((collected * 100).to_integral_value()),
        days=days,
        cost_minor=int((Decimal(cost) * 100).to_integral_value()),
        **flags,
    )
