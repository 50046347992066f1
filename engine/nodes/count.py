"""Count: add one to a counter of the case (attempts), or set it back to 0; then go on.

Conditions read a counter as `counters.<name>` (0 until first counted), so a stretch repeats
until a count is reached: count -> ... -> condition `counters.attempts is below 4` -> back.
A loop still needs a wait on the way (validation refuses one without).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields

from engine.core.messages import Message, msg, pmsg
from engine.journey.document import name_pattern
from engine.nodes.base import Entry, NodeType, RuleSpec, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

COUNTER_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class CountParams(Schema):
    counter = fields.String(
        required=True,
        validate=name_pattern(COUNTER_PATTERN),
        metadata=param(
            msg("Counter"),
            msg("Name of the counter, e.g. attempts; conditions read it as counters.attempts."),
        ),
    )
    reset = fields.Boolean(
        load_default=False,
        metadata=param(msg("Set back to 0"), msg("Set the counter to 0 instead of adding one.")),
    )


def counter_names(journey: Journey) -> frozenset[str]:
    """The counters a journey's `count` steps keep."""
    return frozenset(str(n.params.get("counter")) for n in journey.nodes if n.type == "count")


class Count(NodeType):
    """Add one to a case counter (or reset it) and go on at once."""

    name = "count"
    label = pmsg("node type", "Count attempts")
    help = msg("Add one to a counter of the case, e.g. attempts; conditions can read it.")
    params_schema = CountParams

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return [rule_spec(node.id, "enter", "next", self.words(node.params))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        name = node.params["counter"]
        value = 0 if node.params.get("reset") else int(case.counters.get(name, 0)) + 1
        return Entry(counters={**case.counters, name: value})

    @staticmethod
    def words(params: dict[str, Any]) -> Message:
        """'the counter 'attempts' has gone up by one' / '... has been set to 0'."""
        counter = params.get("counter", "?")
        if params.get("reset"):
            return msg("the counter '{counter}' has been set to 0", counter=counter)
        return msg("the counter '{counter}' has gone up by one", counter=counter)


NODE_TYPE = Count()
