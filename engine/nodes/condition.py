"""Condition: ordered branches on case fields, and an else."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from engine.core.messages import msg
from engine.journey.document import name_pattern
from engine.nodes.base import (
    ARRIVES,
    ClauseSchema,
    NodeType,
    Port,
    Problem,
    RuleSpec,
    param,
    parse_clauses,
    rule_spec,
)

if TYPE_CHECKING:
    from engine.journey.document import Journey, Node


class BranchSchema(Schema):
    port = fields.String(
        required=True,
        validate=name_pattern(r"^[a-z0-9_]{1,32}$"),
        metadata=param(msg("Port"), msg("Short name of this branch's output.")),
    )
    label = fields.String(
        load_default="", metadata=param(msg("Label"), msg("What this branch means."))
    )
    when = fields.List(
        fields.Nested(ClauseSchema),
        required=True,
        validate=validate.Length(min=1),
        metadata=param(msg("When"), msg("All of these tests must hold.")),
    )


class ConditionParams(Schema):
    branches = fields.List(
        fields.Nested(BranchSchema),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata=param(
            msg("Branches"), msg("Tried in order; the first that holds wins, else 'else'.")
        ),
    )


class Condition(NodeType):
    """Branch on case fields; the first branch that holds is taken."""

    name = "condition"
    label = msg("Condition")
    help = msg("Choose the way on by case data, e.g. amount above 100 or no email known.")
    params_schema = ConditionParams

    def ports(self, params: dict[str, Any]) -> list[Port]:
        branches = params.get("branches") or []
        return [Port(b["port"], b.get("label") or b["port"]) for b in branches] + [
            Port.of("else", msg("Else"))
        ]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        rules = [
            rule_spec(
                node.id, "enter", b["port"], ARRIVES, when=parse_clauses(b["when"]), pri=i + 1
            )
            for i, b in enumerate(node.params.get("branches") or [])
        ]
        rules.append(
            rule_spec(node.id, "enter", "else", ARRIVES, pri=len(rules) + 1, otherwise=True)
        )
        return rules

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        ports = [b["port"] for b in node.params.get("branches") or []]
        dupes = sorted({p for p in ports if ports.count(p) > 1 or p == "else"})
        return [
            Problem.of(
                msg("Two branches share the port name '{port}'.", port=p), node.id, "branches"
            )
            for p in dupes
        ]


NODE_TYPE = Condition()
