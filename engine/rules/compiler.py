"""Journey graph -> durable_rules ruleset. Pure: no SQL, no Flask, no durable import."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from engine.journey.document import Journey
from engine.nodes import NODE_TYPES
from engine.rules.model import CompiledRule, catch_all, durable_rule

COMPILER_VERSION = 1
# Every rule starts with `node == ...`, and durable hangs on more than 511 different tests below
# one (engine/rules/limits.py): a journey is split into rulesets of at most this many nodes and
# rules each, and a case's node chooses its ruleset.
NODES_PER_RULESET = 200
RULES_PER_RULESET = 2000
# The most nodes validation lets a journey have: tested to register in well under a second
# (tests/engine/rules/test_large_journeys.py), so registering never holds the lock for long.
MAX_NODES = 2000


@dataclass(frozen=True)
class CompiledJourney:
    """A journey version's ruleset with everything the runtime needs to use it."""

    ruleset: str
    rules: tuple[CompiledRule, ...]
    fields: tuple[str, ...]
    triggers: dict[str, frozenset[str]] = field(default_factory=dict)

    def rule(self, rule_id: str) -> CompiledRule:
        """The rule with this id."""
        return self._by_id()[rule_id]

    def _by_id(self) -> dict[str, CompiledRule]:
        cached = self.__dict__.get("_rules_by_id")
        if cached is None:
            cached = {r.id: r for r in self.rules}
            object.__setattr__(self, "_rules_by_id", cached)
        return cached

    def fields_at(self, node_id: str) -> tuple[str, ...]:
        """The case fields the rules of one node read: all a message at that node must carry."""
        cached = self.__dict__.get("_fields_at")
        if cached is None:
            used: dict[str, set[str]] = {}
            for r in self.rules:
                used.setdefault(r.node, set()).update(c.field for c in r.when)
            cached = {
                node: tuple(f for f in self.fields if f in names) for node, names in used.items()
            }
            object.__setattr__(self, "_fields_at", cached)
        return cached.get(node_id, ())

    def ruleset_for(self, node_id: str) -> str:
        """The name of the ruleset that holds the rules of one node."""
        return self._parts()[1].get(node_id, self.ruleset)

    def definition(self) -> dict[str, Any]:
        """The rulesets in durable_rules' JSON form: one per part of the journey."""
        found: dict[str, Any] = {}
        for name, rules in self._parts()[0].items():
            body = {r.id: durable_rule(r, {"node": r.node, "trigger": r.trigger}) for r in rules}
            body["catch_all"] = catch_all()
            found[name] = body
        return found

    def _parts(self) -> tuple[dict[str, list[CompiledRule]], dict[str, str]]:
        """Rules per ruleset and ruleset per node; one ruleset (this name) for most journeys."""
        cached = self.__dict__.get("_ruleset_parts")
        if cached is None:
            cached = _split(self.ruleset, self.rules)
            object.__setattr__(self, "_ruleset_parts", cached)
        return cached

    def to_json(self) -> dict[str, Any]:
        """What is stored beside the graph."""
        return {
            "compiler_version": COMPILER_VERSION,
            "ruleset": self.ruleset,
            "fields": list(self.fields),
            "rules": [r.to_json() for r in self.rules],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledJourney:
        """Load a stored compiled journey."""
        rules = tuple(CompiledRule.from_json(r) for r in data["rules"])
        return cls(data["ruleset"], rules, tuple(data["fields"]), _triggers(rules))


def _split(
    name: str, rules: tuple[CompiledRule, ...]
) -> tuple[dict[str, list[CompiledRule]], dict[str, str]]:
    """Group the rules by node into parts under NODES_PER_RULESET and RULES_PER_RULESET."""
    by_node: dict[str, list[CompiledRule]] = {}
    for r in rules:
        by_node.setdefault(r.node, []).append(r)
    groups: list[list[str]] = [[]]
    count = 0
    for node, node_rules in by_node.items():
        group = groups[-1]
        if group and (
            len(group) >= NODES_PER_RULESET or count + len(node_rules) > RULES_PER_RULESET
        ):
            group, count = [], 0
            groups.append(group)
        group.append(node)
        count += len(node_rules)
    names = [name] if len(groups) == 1 else [f"{name}.part{i + 1}" for i in range(len(groups))]
    pairs = list(zip(names, groups, strict=True))
    parts = {n: [r for node in g for r in by_node[node]] for n, g in pairs}
    where = {node: n for n, g in pairs for node in g}
    return parts, where


def _triggers(rules: tuple[CompiledRule, ...]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for r in rules:
        found.setdefault(r.node, set()).add(r.trigger)
    return {node: frozenset(t) for node, t in found.items()}


def compile_journey(journey: Journey, version: int | str = "draft") -> CompiledJourney:
    """Compile a validated journey; the ruleset name carries key, version and a content hash."""
    rules: list[CompiledRule] = []
    for node in journey.nodes:
        out = journey.outgoing(node.id)
        for i, spec in enumerate(NODE_TYPES[node.type].compile(node, journey)):
            rules.append(
                CompiledRule(
                    id=f"{node.id}:{spec.trigger}:{i}",
                    node=node.id,
                    trigger=spec.trigger,
                    port=spec.port,
                    target=None if spec.outcome else out.get(spec.port),
                    when=spec.when,
                    pri=spec.pri,
                    phrase=spec.phrase,
                    otherwise=spec.otherwise,
                    outcome=spec.outcome,
                )
            )
    used = sorted({c.field for r in rules for c in r.when})
    digest = hashlib.sha256(
        json.dumps([r.to_json() for r in rules], sort_keys=True, default=str).encode()
    ).hexdigest()[:12]
    name = f"{journey.key}.v{version}.{digest}"
    return CompiledJourney(name, tuple(rules), tuple(used), _triggers(tuple(rules)))
