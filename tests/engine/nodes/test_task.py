"""The task step: validation, rule sentences, and a case through each port (timeout included)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import Database, Runtime, journey_sentences
from engine.authoring.validation import validate_document
from engine.delivery.sandbox import SandboxDispatcher
from engine.intake.tasks import (
    TaskConflict,
    TaskError,
    TaskNotFound,
    claim_task,
    list_tasks,
    record_task_outcome,
)
from engine.journey.document import load_journey
from engine.rules.compiler import compile_journey
from engine.storage.models import TaskRow
from tests.factories import audit_rows, case_row, edge, journey_doc, make_case, node, publish

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday, 11:00 in Berlin


def call_doc(**params: Any) -> dict[str, Any]:
    task = {
        "kind": "call",
        "queue": "collections",
        "due_days": 3,
        "instructions": "Call {{ debtor_name }} about {{ format_money(amount_open) }}.",
        **params,
    }
    nodes = [
        node("start", "start"),
        node("call", "task", **task),
        node("paid", "end", outcome="paid"),
        node("agency", "end", outcome="handed_over"),
        node("closed", "end", outcome="closed"),
        node("watch", "promise", grace_days=1),
    ]
    ports = ("done", "not_reached", "escalate", "timeout")
    targets = {"done": "closed", "not_reached": "closed", "escalate": "agency", "timeout": "agency"}
    edges = [edge("start", "call"), edge("call", "watch", "promise_taken")]
    edges += [edge("call", targets[p], p) for p in ports]
    edges += [edge("watch", "paid", "kept"), edge("watch", "agency", "broken")]
    edges += [edge("watch", "closed", "none")]
    return journey_doc(nodes, edges, templates={})


@pytest.fixture
def db() -> Database:
    database = Database("sqlite:///:memory:")
    database.create_all()
    return database


def start(db: Database, doc: dict[str, Any] | None = None, **case: Any) -> str:
    with db.transaction() as session:
        version = publish(session, doc or call_doc(), NOW)
        row = make_case(session, version, NOW, phone="+4915112345678", **case)
        return row.external_id


def run(db: Database, at: datetime) -> None:
    Runtime(db).tick(at)
    SandboxDispatcher(db, workers=1).dispatch(at)


def tasks(db: Database) -> list[TaskRow]:
    with db.transaction() as session:
        rows = list(session.query(TaskRow).order_by(TaskRow.id))
        session.expunge_all()
        return rows


def test_a_task_step_is_valid_and_says_its_rules_in_both_languages() -> None:
    doc = call_doc()
    _, problems = validate_document(doc)
    assert problems == []
    journey = load_journey(doc)
    compiled = compile_journey(journey, 1)
    en = " ".join(journey_sentences(compiled, journey))
    de = " ".join(journey_sentences(compiled, journey, "de"))
    assert "the debtor promised to pay on the call" in en
    assert "3 days passed without an outcome" in en
    assert "der Schuldner am Telefon eine Zahlung zugesagt hat" in de
    assert "3 Tage ohne Ergebnis vergangen sind" in de


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"kind": "visit"}, "params.kind", "Must be one of"),
        ({"queue": "Team A"}, "params.queue", "small letters"),
        ({"due_days": 0}, "params.due_days", "greater than or equal to 1"),
        ({"due_days": 1.5}, "params.due_days", "whole days"),
        ({"instructions": "Call {{ nobody }}"}, "params.instructions", "unknown variable 'nobody'"),
    ],
)
def test_validation_names_the_task_and_the_field(params: dict, field: str, words: str) -> None:
    _, problems = validate_document(call_doc(**params))
    assert [(p.node, p.field) for p in problems if p.blocks] == [("call", field)]
    assert words in problems[0].message


def test_a_check_task_has_no_call_ports() -> None:
    doc = call_doc(kind="check")
    _, problems = validate_document(doc)
    # promise_taken and not_reached are no ports of a check: their wires dangle.
    assert {p.node for p in problems if p.blocks} == {"call"}
    assert any("promise_taken" in p.message for p in problems)


def test_the_task_is_made_once_with_rendered_instructions(db: Database) -> None:
    ext = start(db)
    run(db, NOW)
    run(db, NOW + timedelta(minutes=5))  # the tick and the drain again: nothing new
    made = tasks(db)
    assert len(made) == 1
    task = made[0]
    assert (task.kind, task.queue, task.status) == ("call", "collections", "open")
    assert task.instructions == "Call Erika Mustermann about 250,00\xa0€."
    assert task.due_at == (NOW + timedelta(days=3)).replace(tzinfo=None)
    with db.transaction() as session:
        assert case_row(session, ext).node_id == "call"
        assert [a.kind for a in audit_rows(session, kind="task")] == ["task"]


def outcome_run(db: Database, outcome: str, **kw: Any) -> str:
    ext = start(db)
    run(db, NOW)
    task_id = tasks(db)[0].id
    with db.transaction() as session:
        claim_task(session, task_id, "agent@example.org", NOW)
        record_task_outcome(session, task_id, outcome, "agent@example.org", NOW, **kw)
    run(db, NOW + timedelta(minutes=1))
    return ext


@pytest.mark.parametrize(
    ("outcome", "node_id", "status"),
    [
        ("done", "closed", "closed"),
        ("not_reached", "closed", "closed"),
        ("escalate", "agency", "closed"),
    ],
)
def test_each_outcome_leaves_by_its_port(
    db: Database, outcome: str, node_id: str, status: str
) -> None:
    ext = outcome_run(db, outcome, note="spoke to them")
    with db.transaction() as session:
        case = case_row(session, ext)
        assert (case.node_id, case.status) == (node_id, status)
        assert [a.detail["port"] for a in audit_rows(session, kind="transition")][-1] == outcome


def test_a_promise_taken_on_the_call_is_a_promise(db: Database) -> None:
    promised = (NOW + timedelta(days=5)).date()
    ext = outcome_run(db, "promise_taken", promised=promised.isoformat())
    with db.transaction() as session:
        case = case_row(session, ext)
        assert (case.node_id, case.promise_date) == ("watch", promised)


def test_the_due_date_passing_takes_the_timeout_way(db: Database) -> None:
    ext = start(db)
    run(db, NOW)
    run(db, NOW + timedelta(days=3, minutes=1))
    task_id = tasks(db)[0].id
    with db.transaction() as session:
        assert case_row(session, ext).outcome == "handed_over"
        with pytest.raises(TaskConflict, match="left this step"):
            record_task_outcome(session, task_id, "done", "a@example.org", NOW + timedelta(days=4))
        assert list_tasks(session, NOW + timedelta(days=4)) == []


def test_hostile_outcomes_are_refused_by_field(db: Database) -> None:
    start(db)
    run(db, NOW)
    task_id = tasks(db)[0].id
    with db.transaction() as session:
        with pytest.raises(TaskNotFound):
            record_task_outcome(session, 999, "done", "a", NOW)
        with pytest.raises(TaskError) as wrong:
            record_task_outcome(session, task_id, "paid", "a", NOW)
        assert wrong.value.field == "outcome"
        with pytest.raises(TaskError) as no_date:
            record_task_outcome(session, task_id, "promise_taken", "a", NOW)
        assert no_date.value.field == "date"
        with pytest.raises(TaskError) as past:
            record_task_outcome(session, task_id, "promise_taken", "a", NOW, promised="2020-01-01")
        assert past.value.field == "date"
        claim_task(session, task_id, "a", NOW)
        with pytest.raises(TaskConflict, match="claimed by a"):
            claim_task(session, task_id, "b", NOW)
        with pytest.raises(TaskConflict, match="claimed by a"):
            record_task_outcome(session, task_id, "done", "b", NOW)
        record_task_outcome(session, task_id, "done", "a", NOW)
        with pytest.raises(TaskConflict, match="already done"):
            record_task_outcome(session, task_id, "done", "a", NOW)
