"""Promote an experiment's winner: a new draft with the winner at 100 %, reviewed like any other.

Promotion writes nothing live. It copies the version the experiment ran on into a new DRAFT
(engine.authoring.lifecycle.save_draft) in which the split sends every case to the winner
(the other arms keep their wires at weight 0, so cases already assigned to them stay where
they are); the holdout is kept at its share or removed, as the manager chooses. The draft
then goes through submit, four-eyes approval and publish like every other version.

The journey's history gets an `experiment_promoted` entry on the new draft (who, which arm,
the verdict), and an audit row `experiment_finished` without a case, from which the webhook
emitter (engine.delivery.webhooks) sends `experiment.finished` with the result to the host.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.authoring.lifecycle import (
    Actor,
    LifecycleConflict,
    LifecycleForbidden,
    LifecycleInvalid,
    LifecycleNotFound,
    save_draft,
)
from engine.core.clock import naive_utc
from engine.core.messages import msg
from engine.experiments.report import ExperimentReport
from engine.nodes.base import Problem
from engine.nodes.split import HOLDOUT
from engine.storage.models import AuditRow, JourneyRow, VersionEventRow, VersionRow

PROMOTERS = frozenset({"manager", "admin", "system"})


def promoted_document(doc: dict[str, Any], node_id: str, winner: str, keep_holdout: bool) -> dict:
    """A copy of the document whose split `node_id` sends every case to `winner`."""
    doc = copy.deepcopy(doc)
    node = next((n for n in doc.get("nodes", []) if n.get("id") == node_id), None)
    if node is None or node.get("type") != "split":
        raise LifecycleNotFound(msg("There is no split '{node}' in this journey.", node=node_id))
    params = node["params"]
    names = [a["name"] for a in params.get("arms", [])]
    if winner not in names:
        raise LifecycleInvalid(msg("'{arm}' is not an arm of this split.", arm=winner))
    holdout = float(params.get("holdout", 0)) if keep_holdout else 0.0
    for arm in params["arms"]:
        arm["weight"] = 100 - holdout if arm["name"] == winner else 0
    params["holdout"] = holdout
    if not holdout:  # the holdout's port is gone with it
        doc["edges"] = [
            e for e in doc.get("edges", []) if not (e["from"] == node_id and e["port"] == HOLDOUT)
        ]
    return doc


def experiment_result(report: ExperimentReport, source: str) -> dict[str, Any]:
    """The experiment's result as JSON: what the webhook and the history carry."""
    arms = {}
    for arm in report.arms:
        arms[arm.arm] = {
            "cases": arm.cases,
            "paid_rate": round(arm.paid_rate.value, 6) if arm.paid_rate else None,
            "amount_per_case": round(arm.amount.value, 2) if arm.amount else None,
            "collected": round(arm.collected, 2),
        }
    return {
        "experiment": report.experiment,
        "node": report.node_id,
        "source": source,
        "as_of": report.as_of.isoformat(),
        "winner": report.verdict.winner,
        "verdict": report.verdict.text("en"),
        "arms": arms,
    }


def promote_winner(
    session: Session,
    key: str,
    number: int,
    report: ExperimentReport,
    actor: Actor,
    now: datetime,
    keep_holdout: bool = True,
    source: str = "live",
) -> tuple[VersionRow, list[Problem]]:
    """A new draft of journey `key` from version `number` with the report's winner at 100 %.

    Refused unless the actor is a manager (or admin) and the report names a winner.
    """
    if actor.role not in PROMOTERS:
        raise LifecycleForbidden(
            msg("'{who}' ({role}) may not promote a winner.", who=actor.name, role=actor.role)
        )
    winner = report.verdict.winner
    if report.verdict.state != "winner" or winner is None:
        raise LifecycleConflict(
            msg("This experiment has no winner yet: {verdict}", verdict=report.verdict.words),
            report.verdict.state,
        )
    journey = session.scalar(select(JourneyRow).where(JourneyRow.key == key))
    source_row = journey and session.scalar(
        select(VersionRow).where(VersionRow.journey_id == journey.id, VersionRow.number == number)
    )
    if journey is None or source_row is None or source_row.status == "simulation":
        raise LifecycleNotFound(
            msg("There is no version {number} of journey '{journey}'.", number=number, journey=key)
        )
    doc = promoted_document(source_row.document, report.node_id, winner, keep_holdout)
    draft, problems = save_draft(session, doc, now, actor.name)
    result = {**experiment_result(report, source), "keep_holdout": keep_holdout}
    detail = {"from_version": number, "draft": draft.number, **result}
    session.add(
        VersionEventRow(
            journey_id=journey.id,
            version_id=draft.id,
            action="experiment_promoted",
            actor=actor.name,
            actor_role=actor.role,
            at=naive_utc(now),
            note=report.verdict.text("en"),
            detail=detail,
        )
    )
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=None,
            version_id=source_row.id,
            node_id=report.node_id,
            kind="experiment_finished",
            rule=None,
            detail={"journey": key, "version": number, "by": actor.name, **detail},
        )
    )
    session.flush()
    return draft, problems
