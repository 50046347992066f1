"""A running experiment's outcomes from the facts the engine keeps (engine/analytics).

The same seam as the simulation (`from_simulation.split_outcomes`): one `ExperimentOutcomes`
per split, read here from `experiment_exposures` joined to `case_facts` with one query, not
recounted from the audit trail. Every version of the journey that ran the experiment counts:
the experiment's name, not the version, binds the cases (a new version with the same split
keeps collecting).

What the facts count differs from the simulation's reading in one way, written here so an
analyst knows: money and guardrails are counted from the case's entry into the journey, not
from its exposure. Assignment is random, so a payment before the split adds the same noise to
every arm and no bias; days to pay are counted from the exposure (`first_paid_at`), and a case
that paid before its exposure counts as paid on day 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import as_utc
from engine.experiments.cycle import minimum_runtime
from engine.experiments.outcomes import ArmOutcomes, ExperimentOutcomes
from engine.nodes.split import HOLDOUT, arm_weights
from engine.storage.models import CaseFactRow, ExposureRow, JourneyRow


def live_outcomes(
    session: Session, key: str, doc: dict[str, Any], node_id: str, now: datetime
) -> ExperimentOutcomes | None:
    """The split `node_id` of `doc` as its live cases have answered it so far (None: no split)."""
    node = next((n for n in doc.get("nodes", []) if n.get("id") == node_id), None)
    journey_id = session.scalar(select(JourneyRow.id).where(JourneyRow.key == key))
    if node is None or node.get("type") != "split" or journey_id is None:
        return None
    experiment = str(node["params"]["experiment"])
    currency = doc.get("currency", "EUR")
    arms = {
        name: ArmOutcomes(name, weight, holdout=name == HOLDOUT, currency=currency)
        for name, weight in arm_weights(node["params"])
    }
    F, E = CaseFactRow, ExposureRow
    rows = session.execute(
        select(
            E.arm,
            E.exposed_at,
            F.collected_minor,
            F.first_paid_at,
            F.cost_email + F.cost_sms + F.cost_letter,
            F.disputes,
            F.opt_outs,
            F.complaints,
            F.bounces,
        )
        .join(F, F.case_id == E.case_id)
        .where(E.journey_id == journey_id, E.experiment == experiment)
        .order_by(E.arm, E.case_id)
        .execution_options(yield_per=10_000)
    )
    started: datetime | None = None
    for arm, exposed, collected, first_paid, cost, disputes, opt_outs, complaints, bounces in rows:
        target = arms.get(arm)
        if target is None:  # an arm removed from the split since: not part of this comparison
            continue
        started = exposed if started is None or exposed < started else started
        paid = collected > 0
        until = first_paid if paid and first_paid is not None else now
        target.add(
            exposed_on=as_utc(exposed).date(),
            paid=paid,
            collected_minor=int(collected),
            days=max((as_utc(until) - as_utc(exposed)).total_seconds() / 86400, 0.0),
            cost_minor=int(cost or 0),
            disputes=bool(disputes),
            opt_outs=bool(opt_outs),
            complaints=bool(complaints),
            bounces=bool(bounces),
        )
    return ExperimentOutcomes(
        experiment=experiment,
        node_id=node_id,
        as_of=as_utc(now).date(),
        started_on=as_utc(started or now).date(),
        arms=list(arms.values()),
        min_runtime_days=minimum_runtime(doc, node_id),
    )
