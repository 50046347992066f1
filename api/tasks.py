"""Tasks for people (a journey's task step): list them, record an outcome from a host system.

A host system that runs its own call centre or workflow lists the open tasks and records what
came of one; the outcome is a case event through the engine's one event intake (idempotent:
a task takes one outcome), and the next tick moves the case out of that outcome's port.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from marshmallow import Schema, fields, validate

from api.auth import check_request, token
from api.blueprint import Blueprint
from api.clock import now
from api.store import write_transaction
from engine import (
    TASK_STATUSES,
    TaskConflict,
    TaskError,
    TaskNotFound,
    get_task,
    list_tasks,
    record_task_outcome,
)
from mahnwerk_web.db import transaction

blp = Blueprint(
    "api_tasks",
    __name__,
    description=(
        "Tasks the journeys made for people (call the debtor, check, approve), and their "
        "outcomes: done, not_reached, promise_taken (with the promised date), escalate."
    ),
)
blp.before_request(check_request)
OUTCOMES = ("done", "not_reached", "promise_taken", "escalate")


class TaskArgs(Schema):
    queue = fields.String(validate=validate.Length(max=64))
    status = fields.String(validate=validate.OneOf(TASK_STATUSES))
    overdue = fields.Boolean(load_default=False)
    case = fields.String(validate=validate.Length(max=100))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TaskOut(Schema):
    id = fields.Integer()
    case = fields.String()
    kind = fields.String()
    queue = fields.String()
    assignee = fields.String(allow_none=True)
    instructions = fields.String()
    status = fields.String()
    claimed_by = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    due_at = fields.String()
    created_at = fields.String()
    done_at = fields.String(allow_none=True)
    overdue = fields.Boolean()
    waiting = fields.Boolean(metadata={"description": "The case still waits for an outcome."})
    outcomes = fields.List(fields.String())


class TasksOut(Schema):
    items = fields.List(fields.Nested(TaskOut))


class OutcomeIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    promise_date = fields.Date(
        load_default=None, metadata={"description": "Required for promise_taken."}
    )
    by = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Who did the work (default: the API token's name)."},
    )


@blp.get("/tasks")
@blp.arguments(TaskArgs(), location="query")
@blp.response(200, TasksOut)
def tasks(args: dict[str, Any]) -> Any:
    """Tasks by due date; without `status`, the ones that wait for a person."""
    with transaction() as session:
        found = list_tasks(
            session,
            now(),
            queue=args.get("queue"),
            status=args.get("status"),
            overdue=args["overdue"],
            case=args.get("case"),
            limit=args["limit"],
        )
        return {"items": [t.to_json() for t in found]}


@blp.get("/tasks/<int:task_id>")
@blp.response(200, TaskOut)
def task(task_id: int) -> Any:
    """One task."""
    with transaction() as session:
        try:
            return get_task(session, task_id, now()).to_json()
        except TaskNotFound as exc:
            abort(404, message=str(exc), kind="unknown-task")


@blp.post("/tasks/<int:task_id>/outcome")
@blp.arguments(OutcomeIn())
@blp.response(200, TaskOut, description="Recorded; the next tick moves the case on.")
def outcome(data: dict[str, Any], task_id: int) -> Any:
    """Record a task's outcome: 409 when it has one already, is someone else's, or its case
    has left the step; 422 naming the field for a wrong outcome or a missing promised date."""
    person = data.get("by") or f"api:{token().name}"
    try:
        with write_transaction() as session:
            done = record_task_outcome(
                session,
                task_id,
                data["outcome"],
                person,
                now(),
                note=data["note"],
                promised=data["promise_date"],
            )
            return done.to_json()
    except TaskNotFound as exc:
        abort(404, message=str(exc), kind="unknown-task")
    except TaskConflict as exc:
        abort(409, message=str(exc), kind="task-conflict")
    except TaskError as exc:
        abort(422, errors={exc.field: [str(exc)]})
