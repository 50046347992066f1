"""Promise: wait for a promised payment date; go 'kept' or 'broken' ('none' without a promise).

A case that arrives with no promise on record has broken nothing: it leaves by the 'none' way
at once (journeys stored before schema version 3 wire 'none' where 'broken' leads, so they behave
as they did; see engine/journey/document.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from marshmallow import Schema, validate

from engine.core.messages import msg
from engine.nodes.base import (
    ARRIVES,
    Clause,
    Entry,
    NodeType,
    Port,
    RuleSpec,
    WholeDays,
    param,
    rule_spec,
)

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node


class PromiseParams(Schema):
    grace_days = WholeDays(
        load_default=2,
        validate=validate.Range(min=0, max=60),
        metadata=param(
            msg("Grace days"), msg("Days after the promised date before the promise is broken.")
        ),
    )


class Promise(NodeType):
    """Watch a promise to pay: kept when the promised amount arrives, broken after the date."""

    name = "promise"
    label = msg("Promise to pay")
    help = msg("Hold off reminders until the promised date; kept when the money arrives in time.")
    params_schema = PromiseParams
    parks = True

    def ports(self, params: dict[str, Any]) -> list[Port]:
        return [
            Port.of("kept", msg("Kept")),
            Port.of("broken", msg("Broken")),
            Port.of("none", msg("No promise")),
        ]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        grace = node.params.get("grace_days", 2)
        kept = (Clause("promise_kept", "eq", True),)
        return [
            rule_spec(
                node.id,
                "enter",
                "none",
                ARRIVES,
                when=(Clause("has_promise", "eq", False),),
            ),
            rule_spec(
                node.id,
                "event:payment_received",
                "kept",
                msg("a payment covers the promised amount"),
                when=kept,
            ),
            rule_spec(
                node.id, "timer", "kept", msg("the promised date has passed"), when=kept, pri=1
            ),
            rule_spec(
                node.id,
                "timer",
                "broken",
                msg("the promised date plus {grace} days has passed", grace=grace),
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

    def instant_ports(self, params: dict[str, Any]) -> frozenset[str]:
        """No promise leaves at once; a promised date already past is decided at once."""
        return frozenset({"kept", "broken", "none"})


NODE_TYPE = Promise()
