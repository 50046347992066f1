"""What every node type offers: params schema, ports, compile and enter functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema, fields, validate

if TYPE_CHECKING:
    from engine.document import Journey, Node
    from engine.state import CaseState

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")
OPERATOR_WORDS = {
    "eq": ("is", "ist"),
    "ne": ("is not", "ist nicht"),
    "gt": ("is above", "ist über"),
    "gte": ("is at least", "ist mindestens"),
    "lt": ("is below", "ist unter"),
    "lte": ("is at most", "ist höchstens"),
    "in": ("is one of", "ist eines von"),
    "not_in": ("is none of", "ist keines von"),
}


def param(label: str, help: str, **kw: Any) -> dict[str, Any]:
    """Metadata the designer renders a form field from."""
    return {"label": label, "help": help, **kw}


class ClauseSchema(Schema):
    """One test on a case field: field, operator, value."""

    field = fields.String(required=True, metadata=param("Field", "The case field to test."))
    op = fields.String(
        required=True,
        validate=validate.OneOf(OPERATORS),
        metadata=param("Operator", "How to compare."),
    )
    value = fields.Raw(required=True, metadata=param("Value", "What to compare with."))


@dataclass(frozen=True)
class Clause:
    """A parsed test on one case field."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Port:
    """A named output of a node."""

    name: str
    label: str


@dataclass(frozen=True)
class RuleSpec:
    """'When a case is at `node` and `trigger` and all `when` hold, take `port`.'"""

    node: str
    trigger: str
    port: str
    phrase: str
    when: tuple[Clause, ...] = ()
    pri: int = 1
    otherwise: bool = False
    outcome: str | None = None  # set where the rule ends the journey without an end node


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A message the node asks the outbox to send."""

    channel: str
    template: str
    tone: int
    fallback_channel: str | None
    purpose: str
    fallback_template: str | None = None


@dataclass(slots=True)
class Entry:
    """What happens when a case enters a node."""

    timer_at: datetime | None = None
    send: SendRequest | None = None
    notify: dict[str, Any] | None = None
    outcome: str | None = None
    assigned_arm: str | None = None


@dataclass(frozen=True)
class Problem:
    """A validation finding, in words a manager understands."""

    message: str
    node: str | None = None
    field: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = f"node '{self.node}'" if self.node else "journey"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.message}"


@dataclass
class NodeType:
    """Base of every node type; subclasses live one per module in engine/nodes/."""

    name: ClassVar[str]
    label: ClassVar[dict[str, str]]
    help: ClassVar[dict[str, str]]
    params_schema: ClassVar[type[Schema]]
    parks: ClassVar[bool] = False  # True where a case waits here for time or an event
    triggers: ClassVar[tuple[str, ...]] = ("enter",)
    extra: dict[str, Any] = field(default_factory=dict)

    def ports(self, params: dict[str, Any]) -> list[Port]:
        """The node's output ports for these params."""
        return [Port("next", "Next")]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        """The rules leaving this node; default: one unconditional rule on entry."""
        return [RuleSpec(node.id, "enter", "next", "it arrives")]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        """What happens on entering; default: nothing, the case moves on at once."""
        return Entry()

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        """Checks beyond the params schema (templates exist, weights add up ...)."""
        return []

    def describe(self) -> dict[str, Any]:
        """Label, help and ports for the designer's palette."""
        return {"name": self.name, "label": self.label, "help": self.help, "parks": self.parks}


def parse_clauses(raw: list[dict[str, Any]] | None) -> tuple[Clause, ...]:
    """Clauses from their JSON form (already schema-checked)."""
    return tuple(Clause(c["field"], c["op"], c["value"]) for c in raw or ())
