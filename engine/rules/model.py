"""Compiled rules as plain data: stored beside the graph, shown to reviewers, fed to durable."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from engine.nodes.base import Clause

UNMATCHED = "catch_all"  # the catch-all rule's id in every ruleset


@dataclass(frozen=True)
class CompiledRule:
    """One rule: at `node`, on `trigger`, when all `when` hold, take `port` to `target`."""

    id: str
    node: str
    trigger: str
    port: str
    target: str | None
    when: tuple[Clause, ...]
    pri: int
    phrase: str
    otherwise: bool = False
    outcome: str | None = None

    @cached_property
    def audit_detail(self) -> dict[str, Any]:
        """What a transition's audit row records of this rule; shared by all of them, read-only."""
        return {
            "trigger": self.trigger,
            "port": self.port,
            "to": self.target,
            "outcome": self.outcome,
        }

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON."""
        data = asdict(self)
        data["when"] = [asdict(c) for c in self.when]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledRule:
        """A rule from its JSON form."""
        return cls(**{**data, "when": tuple(Clause(**c) for c in data["when"])})


def message_key(field: str) -> str:
    """The key a case field is posted under (durable reads dots as nesting)."""
    return field.replace(".", "__")


def clause_condition(clause: Clause) -> dict[str, Any]:
    """One clause in durable_rules' JSON condition language."""
    key = message_key(clause.field)
    op, value = clause.op, clause.value
    if op == "eq":
        return {key: value}
    if op == "in":
        return {"$or": [{key: v} for v in value]}
    if op == "not_in":
        return {"$and": [{"$neq": {key: v}} for v in value]}
    durable_op = {"ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}[op]
    return {durable_op: {key: value}}


def durable_rule(rule: CompiledRule, scope: dict[str, Any]) -> dict[str, Any]:
    """A rule in durable_rules' JSON form; `scope` holds the node/trigger equality tests."""
    terms = [{k: v} for k, v in scope.items()] + [clause_condition(c) for c in rule.when]
    return {"all": [{"m": {"$and": terms}}], "pri": rule.pri, "run": rule.id}


def catch_all() -> dict[str, Any]:
    """Consumes every message no other rule took, so none piles up in the engine's state."""
    return {"all": [{"m": {"$ex": {"trigger": 1}}}], "pri": 1_000_000, "run": UNMATCHED}
