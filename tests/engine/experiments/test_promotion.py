"""Promoting the winner: a new draft at 100 %, the normal review after it, the host told."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from engine import Database, VirtualClock
from engine.authoring.lifecycle import (
    Actor,
    LifecycleConflict,
    LifecycleForbidden,
    submit_version,
    version_history,
    waiting_for_review,
)
from engine.delivery.webhooks import create_subscription, emit_from_audit
from engine.experiments.outcomes import ArmOutcomes, ExperimentOutcomes
from engine.experiments.promotion import promote_winner, promoted_document
from engine.experiments.report import experiment_report
from engine.storage.api_models import WebhookDeliveryRow
from tests.factories import publish, split_doc

MANAGER = Actor.user("manager@example.org", "manager")
REVIEWER = Actor.user("reviewer@example.org", "reviewer")
START = date(2026, 1, 5)


def outcomes(rate_b: float, holdout: bool = False) -> ExperimentOutcomes:
    rng = np.random.default_rng(5)
    arms = []
    names = [("A", 0.2), ("B", rate_b)] + ([("holdout", 0.05)] if holdout else [])
    for name, rate in names:
        arm = ArmOutcomes(name, 45 if holdout and name != "holdout" else (10 if holdout else 50))
        arm.holdout = name == "holdout"
        for i in range(3000 if name != "holdout" else 667):
            paid = bool(rng.random() < rate)
            arm.add(START + timedelta(days=i % 10), paid, 10_000 * paid, 3.0, 10)
        arms.append(arm)
    return ExperimentOutcomes("reminder-test", "test", START + timedelta(days=30), arms, 9, START)


def test_the_winner_gets_everything_and_the_holdout_is_the_managers_choice() -> None:
    doc = split_doc(holdout=10)
    kept = promoted_document(doc, "test", "B", keep_holdout=True)
    params = next(n for n in kept["nodes"] if n["id"] == "test")["params"]
    assert [(a["name"], a["weight"]) for a in params["arms"]] == [("A", 0), ("B", 90)]
    assert params["holdout"] == 10
    dropped = promoted_document(doc, "test", "B", keep_holdout=False)
    params = next(n for n in dropped["nodes"] if n["id"] == "test")["params"]
    assert params["holdout"] == 0 and [a["weight"] for a in params["arms"]] == [0, 100]
    assert not [e for e in dropped["edges"] if e["port"] == "holdout"]
    assert doc["nodes"][1]["params"]["holdout"] == 10  # the source is untouched


def test_promotion_makes_a_draft_that_goes_through_review_and_tells_the_host(
    db: Database, clock: VirtualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAHNWERK_WEBHOOKS_ALLOW_PRIVATE", "1")
    report = experiment_report(outcomes(0.3))
    assert report.verdict.winner == "B"
    with db.transaction() as session:
        publish(session, split_doc(), clock.now)
        create_subscription(session, "http://127.0.0.1:9/hooks", ["experiment.finished"], clock.now)
        draft, problems = promote_winner(
            session, "split-journey", 1, report, MANAGER, clock.now, source="simulation"
        )
        assert not [p for p in problems if p.severity != "warning"]
        assert draft.status == "draft" and draft.number == 2
        split = next(n for n in draft.document["nodes"] if n["id"] == "test")
        assert [a["weight"] for a in split["params"]["arms"]] == [0, 100]
        submit_version(session, "split-journey", 2, MANAGER, clock.now)
        waiting = [(k, v.number) for k, v in waiting_for_review(session, REVIEWER.name)]
        assert waiting == [("split-journey", 2)]
        history = version_history(session, "split-journey", 2)
        promoted = next(h for h in history if h.action == "experiment_promoted")
        assert promoted.actor == MANAGER.name and promoted.detail["winner"] == "B"
    emit_from_audit(db, clock.now)
    with db.transaction() as session:
        delivery = session.scalar(select(WebhookDeliveryRow))
        assert delivery is not None and delivery.event_type == "experiment.finished"
        body = json.loads(delivery.body)
    assert body["data"]["winner"] == "B" and body["data"]["source"] == "simulation"
    assert body["data"]["arms"]["B"]["cases"] == 3000
    assert "this will not change with more data" in body["data"]["verdict"]


def test_no_winner_no_promotion(db: Database, clock: VirtualClock) -> None:
    report = experiment_report(outcomes(0.2))
    with db.transaction() as session:
        publish(session, split_doc(), clock.now)
        with pytest.raises(LifecycleConflict, match="no winner yet"):
            promote_winner(session, "split-journey", 1, report, MANAGER, clock.now)


def test_only_managers_promote(db: Database, clock: VirtualClock) -> None:
    report = experiment_report(outcomes(0.3))
    with db.transaction() as session:
        publish(session, split_doc(), clock.now)
        with pytest.raises(LifecycleForbidden, match="may not promote"):
            promote_winner(session, "split-journey", 1, report, REVIEWER, clock.now)
