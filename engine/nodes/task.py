"""Task: make work for a person (call the debtor, check a file, approve), wait for its outcome.

The case parks here until a person records an outcome in the task inbox or through the API
(each outcome is a case event, engine/core/event_types.py TASK_OUTCOMES) or the task's due date
passes ('timeout'). A call task is a contact: the task drain (engine/delivery/tasks.py) asks the
contact-policy guard before it makes the task, exactly as a send is asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import fields, validate

from engine.core.messages import Text, from_english, msg
from engine.journey.calendar import days_later
from engine.journey.document import name_pattern
from engine.journey.templating import (
    SYNTAX_ERROR,
    UNKNOWN_NAMES,
    UNKNOWN_VARIABLE,
    template_problems,
)
from engine.nodes.base import (
    Entry,
    NodeType,
    Port,
    Problem,
    RuleSpec,
    TaskRequest,
    WholeDays,
    param,
    rule_spec,
)
from engine.nodes.window import SlotParams, release_at

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

KINDS = ("call", "check", "approve", "other")
KIND_WORDS: dict[str, Text] = {
    "call": msg("Call the debtor"),
    "check": msg("Check"),
    "approve": msg("Approve"),
    "other": msg("Other work"),
}
# Outcome port -> the case event that takes it (a person records the outcome).
OUTCOME_EVENTS = {
    "done": "task_done",
    "not_reached": "task_not_reached",
    "promise_taken": "task_promise_taken",
    "escalate": "task_escalated",
}
EVENT_OUTCOMES = {event: port for port, event in OUTCOME_EVENTS.items()}
OUTCOME_WORDS: dict[str, Text] = {
    "done": msg("Done"),
    "not_reached": msg("Not reached"),
    "promise_taken": msg("Promise taken"),
    "escalate": msg("Escalate"),
}
# What recording each outcome means, as the clause of a rule.
OUTCOME_CLAUSES: dict[str, Text] = {
    "done": msg("the task is recorded as done"),
    "not_reached": msg("the debtor could not be reached"),
    "promise_taken": msg("the debtor promised to pay on the call"),
    "escalate": msg("the task is escalated"),
}
# Only a call reaches the debtor: the other kinds cannot be 'not reached' or take a promise.
CALL_ONLY = ("not_reached", "promise_taken")
_FINDINGS = (SYNTAX_ERROR, UNKNOWN_VARIABLE, *UNKNOWN_NAMES)


def outcomes(kind: str) -> tuple[str, ...]:
    """The outcomes a person may record on a task of this kind."""
    return tuple(o for o in OUTCOME_EVENTS if kind == "call" or o not in CALL_ONLY)


class TaskParams(SlotParams):  # allowed weekdays and hours, as send steps
    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS),
        metadata=param(msg("Kind"), msg("What the person is to do."), choices=KIND_WORDS),
    )
    queue = fields.String(
        required=True,
        validate=name_pattern(r"^[a-z0-9_]{1,32}$"),
        metadata=param(
            msg("Queue"), msg("Which team's inbox the task goes to, e.g. collections_de.")
        ),
    )
    assignee = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata=param(
            msg("Assignee"), msg("The person's sign-in e-mail, when one person is to do it.")
        ),
    )
    due_days = WholeDays(
        required=True,
        validate=validate.Range(min=1, max=365),
        metadata=param(
            msg("Due in (days)"), msg("Take the 'timeout' way when no outcome is recorded by then.")
        ),
    )
    due_business = fields.Boolean(
        load_default=False,
        metadata=param(
            msg("Due in business days"),
            msg("Count the days in business days (weekends and public holidays skipped)."),
        ),
    )
    instructions = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4000),
        metadata=param(
            msg("Instructions"),
            msg(
                "What to do, written like a template: e.g. Call {{ debtor_name }} about "
                "{{ format_money(amount_open) }}."
            ),
        ),
    )


class Task(NodeType):
    """Park while a person works on the task; leave by the outcome they record, or timeout."""

    name = "task"
    label = msg("Task for a person")
    help = msg("Call the debtor, check a file or approve the next stage; go on by the outcome.")
    params_schema = TaskParams
    parks = True

    def ports(self, params: dict[str, Any]) -> list[Port]:
        kind = params.get("kind") or "call"
        return [Port.of(o, OUTCOME_WORDS[o]) for o in outcomes(kind)] + [
            Port.of("timeout", msg("Timeout"))
        ]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        kind = node.params.get("kind") or "call"
        rules = [
            rule_spec(node.id, f"event:{OUTCOME_EVENTS[o]}", o, OUTCOME_CLAUSES[o])
            for o in outcomes(kind)
        ]
        days = node.params.get("due_days", 1)
        timeout = msg("{days:#day|days} passed without an outcome", days=days)
        if node.params.get("due_business"):
            timeout = msg("{days:#business day|business days} passed without an outcome", days=days)
        rules.append(rule_spec(node.id, "timer", "timeout", timeout))
        return rules

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        due = due_at(node.params, case, now)
        assignee = (node.params.get("assignee") or "").strip() or None
        request = TaskRequest(
            kind=node.params["kind"],
            queue=node.params["queue"],
            assignee=assignee,
            instructions=node.params["instructions"],
            due_at=due,
        )
        return Entry(timer_at=due, task=request, not_before=release_at(node.params, case, now))

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        source = node.params.get("instructions")
        if not isinstance(source, str):
            return []
        return [
            Problem.of(
                msg("The instructions: {problem}.", problem=from_english(text, _FINDINGS)),
                node.id,
                "params.instructions",
            )
            for text in template_problems(source)
        ]


def due_at(params: dict[str, Any], case: CaseState, now: datetime) -> datetime:
    """When the task is due: n days (or business days in the debtor's region) from `now`."""
    return days_later(now, int(params["due_days"]), bool(params.get("due_business")), case)


NODE_TYPE = Task()
