"""Split: send cases down A/B/n arms by weight, with an optional holdout, for an experiment."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from engine.core.assignment import assign
from engine.core.messages import msg
from engine.journey.document import name_pattern
from engine.nodes.base import (
    ARRIVES,
    Clause,
    Entry,
    NodeType,
    Port,
    Problem,
    RuleSpec,
    param,
    rule_spec,
)

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

HOLDOUT = "holdout"


class ArmSchema(Schema):
    name = fields.String(
        required=True,
        validate=name_pattern(r"^[A-Za-z0-9_]{1,32}$"),
        metadata=param(msg("Arm"), msg("Name of the arm, e.g. A or B.")),
    )
    weight = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=100),
        metadata=param(msg("Weight %"), msg("Share of cases in this arm.")),
    )


class SplitParams(Schema):
    experiment = fields.String(
        required=True,
        validate=name_pattern(r"^[a-z0-9][a-z0-9\-_]{0,63}$"),
        metadata=param(msg("Experiment"), msg("Key of the experiment this split belongs to.")),
    )
    arms = fields.List(
        fields.Nested(ArmSchema),
        required=True,
        validate=validate.Length(min=2, max=10),
        metadata=param(msg("Arms"), msg("The variants and their share of cases.")),
    )
    holdout = fields.Float(
        load_default=0,
        validate=validate.Range(min=0, max=50),
        metadata=param(
            msg("Holdout %"), msg("Share of cases that get no treatment, to measure the lift.")
        ),
    )
    auto_promote = fields.Boolean(
        load_default=False,
        metadata=param(
            msg("Promote the winner on its own"),
            msg(
                "Once the live cases show a winner, a new draft with it at 100 % is made and "
                "submitted for review; review and publish stay with people."
            ),
        ),
    )


def arm_weights(params: dict[str, Any]) -> list[tuple[str, float]]:
    """(arm, weight) pairs including the holdout arm where there is one."""
    pairs = [(a["name"], float(a["weight"])) for a in params.get("arms") or []]
    if float(params.get("holdout", 0)) > 0:
        pairs.append((HOLDOUT, float(params["holdout"])))
    return pairs


class Split(NodeType):
    """Deterministic A/B/n split bound to an experiment."""

    name = "split"
    label = msg("A/B split")
    help = msg("Try variants side by side: each case is assigned an arm once, by a stable hash.")
    params_schema = SplitParams

    def ports(self, params: dict[str, Any]) -> list[Port]:
        return [
            Port.of(name, msg("Arm {arm}", arm=name) if name != HOLDOUT else msg("Holdout"))
            for name, _ in arm_weights(params)
        ]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return [
            rule_spec(node.id, "enter", name, ARRIVES, when=(Clause("arm", "eq", name),), pri=i + 1)
            for i, (name, _) in enumerate(arm_weights(node.params))
        ]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        experiment = node.params["experiment"]
        arm = case.arms.get(experiment) or assign(
            case.external_id, experiment, arm_weights(node.params)
        )
        return Entry(assigned_arm=arm)

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        pairs = arm_weights(node.params)
        total = sum(w for _, w in pairs)
        problems = []
        if pairs and abs(total - 100) > 1e-6:
            problems.append(
                Problem.of(
                    msg("The weights add up to {total:g}%, they must add up to 100%.", total=total),
                    node.id,
                    "arms",
                )
            )
        names = [n for n, _ in pairs]
        if len(set(names)) != len(names):
            problems.append(Problem.of(msg("Two arms have the same name."), node.id, "arms"))
        return problems


NODE_TYPE = Split()
