"""What every node type offers: params schema, ports, compile and enter functions."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema, ValidationError, fields, validate

from engine.core.messages import DEFAULT_LANG, Text, msg

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in")
OPERATOR_WORDS: dict[str, Text] = {
    "eq": msg("is"),
    "ne": msg("is not"),
    "gt": msg("is above"),
    "gte": msg("is at least"),
    "lt": msg("is below"),
    "lte": msg("is at most"),
    "in": msg("is one of"),
    "not_in": msg("is none of"),
}


def param(label: Text, help: Text, **kw: Any) -> dict[str, Any]:
    """Metadata the designer renders a form field from: lazy texts, rendered in its language."""
    return {"label": label, "help": help, **kw}


# marshmallow takes strings: validation reads this English back into the message (from_english).
WHOLE_DAYS = msg(
    "Give whole days: {value} is part of a day, which this step cannot count. "
    "For part of a day use a wait of 'a duration' with hours."
)


class WholeDays(fields.Integer):
    """Days as a whole number: 0.5 is refused with words, not silently cut to 0."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float | str) and not isinstance(value, bool):
            try:
                number = float(value)
            except ValueError:
                number = 0.0  # not a number at all: Integer says so
            if math.isfinite(number) and not number.is_integer():
                raise ValidationError(WHOLE_DAYS.with_params(value=value).text())
        return super()._validated(value)


class ClauseSchema(Schema):
    """One test on a case field: field, operator, value."""

    field = fields.String(
        required=True, metadata=param(msg("Field"), msg("The case field to test."))
    )
    op = fields.String(
        required=True,
        validate=validate.OneOf(OPERATORS),
        metadata=param(msg("Operator"), msg("How to compare."), choices=OPERATOR_WORDS),
    )
    value = fields.Raw(required=True, metadata=param(msg("Value"), msg("What to compare with.")))


@dataclass(frozen=True)
class Clause:
    """A parsed test on one case field."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Port:
    """A named output of a node; `label` is English, `words` says it in other languages too."""

    name: str
    label: str
    words: Text | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, name: str, words: Text) -> Port:
        """A port labelled by a catalog text."""
        return cls(name, words.text(DEFAULT_LANG), words)

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The port's label in `lang` (a manager's own branch label reads the same in all)."""
        return self.words.text(lang) if self.words is not None else self.label


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
    words: Text | None = field(default=None, compare=False, repr=False)  # `phrase`, any language


def rule_spec(node: str, trigger: str, port: str, words: Text, **kw: Any) -> RuleSpec:
    """A RuleSpec whose English phrase comes from `words`, kept for other languages."""
    return RuleSpec(node, trigger, port, words.text(DEFAULT_LANG), words=words, **kw)


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A message the node asks the outbox to send."""

    channel: str
    template: str
    tone: int
    fallback_channel: str | None
    purpose: str
    fallback_template: str | None = None
    # The fallback chain in order, (channel, template) per hop; `fallback_channel` is its first.
    fallbacks: tuple[tuple[str, str], ...] = ()
    bcc: tuple[str, ...] = ()  # blind copies of an email (the step's or an email hop's)
    attach: tuple[str, ...] = ()  # the case's documents an email carries (`invoice`)


@dataclass(frozen=True, slots=True)
class TaskRequest:
    """Work for a person the node asks for (a `task` step): made once by the task drain."""

    kind: str
    queue: str
    assignee: str | None
    instructions: str
    due_at: datetime


@dataclass(slots=True)
class Entry:
    """What happens when a case enters a node."""

    timer_at: datetime | None = None
    send: SendRequest | None = None
    notify: dict[str, Any] | None = None
    outcome: str | None = None
    assigned_arm: str | None = None
    # The message or notification may not leave before this moment (a step's allowed slot).
    not_before: datetime | None = None
    counters: dict[str, int] | None = None  # the case's counters from now on (`count` step)
    fee: dict[str, Any] | None = None  # a `fee` step's params: the runtime books the fee
    task: TaskRequest | None = None  # work for a person (`task` step)


@dataclass(frozen=True)
class Problem:
    """A validation finding, in words a manager understands; `message` is the English text."""

    message: str
    node: str | None = None
    field: str | None = None
    severity: str = "error"  # "error" blocks save and submit; "warning" is shown only
    # Excluded from ==: a problem is the same finding whatever languages it can be read in.
    words: Text | None = dataclasses.field(default=None, compare=False, repr=False)
    # A compliance finding's rule id (e.g. "DE-TONE-FINAL", "COMPLIANCE-PROOF-CAPS") and grade
    # (BLOCK, HIGH, MED): a HIGH finding needs a reviewer's written waiver before approval.
    code: str | None = dataclasses.field(default=None, compare=False)
    grade: str | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def of(
        cls, words: Text, node: str | None = None, field: str | None = None, severity: str = "error"
    ) -> Problem:
        """A problem from a catalog text, readable in every language."""
        return cls(words.text(DEFAULT_LANG), node, field, severity, words=words)

    @property
    def finding_key(self) -> str | None:
        """A compliance finding's stable name within a version: rule, step and field."""
        if self.code is None:
            return None
        return f"{self.code}|{self.node or ''}|{self.field or ''}"

    def graded(self, code: str, grade: str) -> Problem:
        """The same problem marked as a compliance finding of `code` and `grade`."""
        return dataclasses.replace(self, code=code, grade=grade)

    @property
    def blocks(self) -> bool:
        """True for an error; a warning (a HIGH or MED compliance finding) does not block."""
        return self.severity == "error"

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The message in `lang`; a problem made from a plain string reads the same in all."""
        return self.words.text(lang) if self.words is not None else self.message

    def line(self, lang: str = DEFAULT_LANG) -> str:
        """One line naming node and field, e.g. "node 'x', field 'template': ..."."""
        where: Text = msg("journey")
        if self.node:
            where = msg("node '{node}'", node=self.node)
        if self.field:
            where = msg("{where}, field '{field}'", where=where, field=self.field)
        line = msg("{where}: {message}", where=where, message=self.text(lang))
        if not self.blocks:
            line = msg("warning: {line}", line=line)
        return line.text(lang)

    def __str__(self) -> str:
        return self.line(DEFAULT_LANG)


# The most rules one case may fire in one tick (engine/run/runtime.py stops it after that);
# validation refuses a journey with a loop or a path that could fire more without waiting.
MAX_STEPS_PER_TICK = 64
ARRIVES = msg("it arrives")  # the phrase of a rule that fires as soon as a case arrives
NEXT = Port.of("next", msg("Next"))


@dataclass
class NodeType:
    """Base of every node type; subclasses live one per module in engine/nodes/."""

    name: ClassVar[str]
    label: ClassVar[Text]  # msg("..."): the node type's own words, in every language
    help: ClassVar[Text]
    params_schema: ClassVar[type[Schema]]
    parks: ClassVar[bool] = False  # True where a case waits here for time or an event
    triggers: ClassVar[tuple[str, ...]] = ("enter",)
    extra: dict[str, Any] = field(default_factory=dict)

    def ports(self, params: dict[str, Any]) -> list[Port]:
        """The node's output ports for these params."""
        return [NEXT]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        """The rules leaving this node; default: one unconditional rule on entry."""
        return [rule_spec(node.id, "enter", "next", ARRIVES)]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        """What happens on entering; default: nothing, the case moves on at once."""
        return Entry()

    def instant_ports(self, params: dict[str, Any]) -> frozenset[str]:
        """The ports a case can leave by in the tick it arrives (no time passes on the way)."""
        return frozenset() if self.parks else frozenset(p.name for p in self.ports(params))

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        """Checks beyond the params schema (templates exist, weights add up ...)."""
        return []

    def describe(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        """Label, help and ports for the designer's palette, in `lang`."""
        return {
            "name": self.name,
            "label": self.label.text(lang),
            "help": self.help.text(lang),
            "parks": self.parks,
        }


def parse_clauses(raw: list[dict[str, Any]] | None) -> tuple[Clause, ...]:
    """Clauses from their JSON form (already schema-checked)."""
    return tuple(Clause(c["field"], c["op"], c["value"]) for c in raw or ())
