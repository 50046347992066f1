"""Start: where a case enters the journey, with an optional entry filter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields

from engine.core.messages import msg
from engine.nodes.base import (
    ARRIVES,
    ClauseSchema,
    NodeType,
    RuleSpec,
    param,
    parse_clauses,
    rule_spec,
)

if TYPE_CHECKING:
    from engine.journey.document import Journey, Node


class StartParams(Schema):
    filter = fields.List(
        fields.Nested(ClauseSchema),
        load_default=list,
        metadata=param(
            msg("Entry filter"),
            msg(
                "Only cases for which all these tests hold enter; the others close as not eligible."
            ),
        ),
    )


class Start(NodeType):
    """Entry point of every journey."""

    name = "start"
    label = msg("Start")
    help = msg("Where a case enters. An entry filter keeps cases out that this journey is not for.")
    params_schema = StartParams

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        clauses = parse_clauses(node.params.get("filter"))
        rules = [rule_spec(node.id, "enter", "next", ARRIVES, when=clauses, pri=1)]
        if clauses:
            rules.append(
                rule_spec(
                    node.id,
                    "enter",
                    "ineligible",
                    ARRIVES,
                    pri=2,
                    otherwise=True,
                    outcome="not_eligible",
                )
            )
        return rules

    def filter_fields(self, params: dict[str, Any]) -> list[str]:
        """Fields the entry filter reads."""
        return [c["field"] for c in params.get("filter") or ()]


NODE_TYPE = Start()
