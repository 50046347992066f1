"""End: the journey is over, with an outcome."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from engine.core.messages import msg
from engine.nodes.base import Entry, NodeType, Port, RuleSpec, param

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

OUTCOMES = ("paid", "handed_over", "written_off", "closed")
OUTCOME_WORDS = {
    "paid": msg("paid"),
    "handed_over": msg("handed over"),
    "written_off": msg("written off"),
    "closed": msg("closed"),
}


class EndParams(Schema):
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(OUTCOMES),
        metadata=param(
            msg("Outcome"),
            msg("How the journey ended: paid, handed over, written off, closed."),
            choices=OUTCOME_WORDS,
        ),
    )


class End(NodeType):
    """Close the case with an outcome."""

    name = "end"
    label = msg("End")
    help = msg("The journey ends here with an outcome.")
    params_schema = EndParams
    parks = True
    triggers = ()

    def ports(self, params: dict[str, Any]) -> list[Port]:
        return []

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return []

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        return Entry(outcome=node.params["outcome"])


NODE_TYPE = End()
