"""Promise: wait for a promised payment date; go 'kept' or 'broken'."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, fields, validate

from engine.core.messages import msg
from engine.nodes.base import Clause, Entry, NodeType, Port, RuleSpec, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node


class PromiseParams(Schema):
    grace_days = fields.Integer(
        load_default=2,
        validate=validate.Range(min=0, max=60),
        metadata=param("Grace days", "Days after the promised date before the promise is broken."),
    )


class Promise(NodeType):
    """Watch a promise to pay: kept when the promised amount arrives, broken after the date."""

    name = "promise"
    label = {"en": "Promise to pay", "de": "Zahlungszusage"}
    help = {
        "en": "Hold off reminders until the promised date; kept when the money arrives in time.",
        "de": "Bis zum zugesagten Datum nicht mahnen; eingehalten, wenn das Geld "
        "rechtzeitig kommt.",
    }
    params_schema = PromiseParams
    parks = True

    def ports(self, params: dict[str, Any]) -> list[Port]:
        return [Port.of("kept", msg("port.kept")), Port.of("broken", msg("port.broken"))]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        grace = node.params.get("grace_days", 2)
        kept = (Clause("promise_kept", "eq", True),)
        return [
            rule_spec(
                node.id,
                "enter",
                "broken",
                msg("rule.promise.none"),
                when=(Clause("has_promise", "eq", False),),
            ),
            rule_spec(
                node.id, "event:payment_received", "kept", msg("rule.promise.paid"), when=kept
            ),
            rule_spec(node.id, "timer", "kept", msg("rule.promise.date_passed"), when=kept, pri=1),
            rule_spec(
                node.id,
                "timer",
                "broken",
                msg("rule.promise.grace_passed", grace=grace),
                pri=2,
                otherwise=True,
            ),
        ]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        if case.promise_date is None:
            return Entry()
        day = case.promise_date + timedelta(days=int(node.params.get("grace_days", 2)))
        moment = datetime.combine(day, time(23, 59), ZoneInfo(case.timezone)).astimezone(UTC)
        return Entry(timer_at=max(moment, now))


NODE_TYPE = Promise()
