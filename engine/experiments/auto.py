"""Promote a running experiment's winner on its own, when the journey's split says so.

A split step with `auto_promote` lets the scheduler do what a manager does on the experiment
page: once the live outcomes (engine.experiments.live) give a winner under the always-valid
rule, past one journey cycle and with no guardrail worse, a new draft with the winner at 100 %
is made and submitted for review as the system; the four-eyes review and the publish stay with
people. Each experiment of a published version is promoted once (the history says so), and the
leader alone runs it, so two workers never make two drafts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.authoring.lifecycle import SYSTEM, LifecycleError, submit_version
from engine.core.messages import msg
from engine.experiments.live import live_outcomes
from engine.experiments.promotion import promote_winner
from engine.experiments.report import experiment_report
from engine.storage.models import JourneyRow, VersionEventRow, VersionRow

SUBMIT_NOTE = msg("Promotes the winner of experiment {experiment} on its own (auto-promote).")


@dataclass(frozen=True)
class AutoPromotion:
    """A winner promoted without a person: the journey, the versions and the experiment."""

    key: str
    from_version: int
    draft: int
    experiment: str
    winner: str
    submitted: bool


def auto_promote(session: Session, now: datetime) -> list[AutoPromotion]:
    """Promote every decided experiment whose split says `auto_promote`, each once."""
    done: list[AutoPromotion] = []
    rows = session.execute(
        select(JourneyRow.key, JourneyRow.id, VersionRow)
        .join(VersionRow, VersionRow.journey_id == JourneyRow.id)
        .where(VersionRow.status == "published")
    ).all()
    for key, journey_id, version in rows:
        for node in version.document.get("nodes", []):
            params = node.get("params") or {}
            if node.get("type") != "split" or not params.get("auto_promote"):
                continue
            if _promoted(session, journey_id, version.number, str(params.get("experiment"))):
                continue
            found = _promote(session, key, version, node["id"], now)
            if found is not None:
                done.append(found)
    return done


def _promoted(session: Session, journey_id: int, number: int, experiment: str) -> bool:
    """Whether this version's experiment was promoted already (by a person or on its own)."""
    events = session.scalars(
        select(VersionEventRow.detail).where(
            VersionEventRow.journey_id == journey_id,
            VersionEventRow.action == "experiment_promoted",
        )
    )
    return any(
        (d or {}).get("from_version") == number and (d or {}).get("experiment") == experiment
        for d in events
    )


def _promote(
    session: Session, key: str, version: VersionRow, node_id: str, now: datetime
) -> AutoPromotion | None:
    data = live_outcomes(session, key, version.document, node_id, now)
    if data is None or not any(arm.cases for arm in data.arms):
        return None
    report = experiment_report(data)
    if report.verdict.state != "winner" or report.verdict.winner is None:
        return None  # too early, no difference yet, a guardrail worse, a broken split
    draft, problems = promote_winner(
        session, key, version.number, report, SYSTEM, now, keep_holdout=True, source="live"
    )
    submitted = False
    if not any(p.blocks for p in problems):  # warnings go to review with it; errors stay
        try:
            with session.begin_nested():
                note = SUBMIT_NOTE.with_params(experiment=report.experiment).text()
                submit_version(session, key, draft.number, SYSTEM, now, note)
            submitted = True
        except LifecycleError:  # e.g. a retired journey: the draft stays for a person
            submitted = False
    return AutoPromotion(
        key, version.number, draft.number, report.experiment, report.verdict.winner, submitted
    )
