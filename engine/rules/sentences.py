"""Compiled rules as sentences a compliance reviewer can read."""

from __future__ import annotations

from typing import Any

from engine.document import Journey
from engine.fields import BUILTIN_FIELDS, field_label
from engine.nodes.base import OPERATOR_WORDS, Clause
from engine.rules import policy
from engine.rules.compiler import CompiledJourney
from engine.rules.model import CompiledRule


def clause_words(clause: Clause, currency: str) -> str:
    """'the open amount is above 100 EUR'."""
    if clause.field == "arm":
        return f"the case is in arm '{clause.value}'"
    if clause.field == "has_promise":
        return "there is a promise" if clause.value else "there is no promise"
    if clause.field == "promise_kept":
        return "the promised amount has arrived" if clause.value else "the promise is not met"
    known = BUILTIN_FIELDS.get(clause.field)
    if known is not None and known.false_en and clause.op in ("eq", "ne"):
        holds = bool(clause.value) == (clause.op == "eq")
        return known.label_en if holds else known.false_en
    op = OPERATOR_WORDS[clause.op][0]
    return f"{field_label(clause.field)} {op} {_value_words(clause, currency)}"


def _value_words(clause: Clause, currency: str) -> str:
    known = BUILTIN_FIELDS.get(clause.field)
    unit = known.unit if known else ""
    values = clause.value if isinstance(clause.value, list) else [clause.value]
    words = []
    for v in values:
        if isinstance(v, bool):
            words.append("yes" if v else "no")
        elif unit == "currency":
            words.append(f"{v:g} {currency}" if isinstance(v, int | float) else f"{v} {currency}")
        elif unit:
            words.append(f"{v} {unit}")
        else:
            words.append(f"'{v}'" if isinstance(v, str) else str(v))
    return ", ".join(words)


def rule_sentence(rule: CompiledRule, journey: Journey) -> str:
    """One rule of a journey as a sentence."""
    nodes = journey.nodes_by_id()
    label = _label(nodes, rule.node)
    if rule.trigger == "enter":
        head = f"When a case arrives at '{label}'"
        if rule.phrase != "it arrives":
            head += f" and {rule.phrase}"
    else:
        head = f"When a case is at '{label}' and {rule.phrase}"
    parts = [head, *(clause_words(c, journey.currency) for c in rule.when)]
    if rule.otherwise:
        parts.append("no way above applies")
    if rule.outcome:
        tail = f"end the journey as {rule.outcome.replace('_', ' ')}"
    elif rule.target:
        tail = f"go to '{_label(nodes, rule.target)}'"
    else:
        tail = "stop (this way is not connected)"
    return " and ".join(parts) + f", {tail}."


def _label(nodes: dict[str, Any], node_id: str) -> str:
    node = nodes.get(node_id)
    return (node.label or node.id) if node else node_id


def policy_sentences() -> list[str]:
    """The policy rules that apply to every journey, as sentences."""
    return [f"At any step, when {r.phrase}." for r in policy.RULES]


def journey_sentences(compiled: CompiledJourney, journey: Journey) -> list[str]:
    """Every rule of a journey, node by node in document order, as sentences."""
    order = {n.id: i for i, n in enumerate(journey.nodes)}
    rules = sorted(
        compiled.rules, key=lambda r: (order.get(r.node, 0), r.trigger != "enter", r.pri)
    )
    return [rule_sentence(r, journey) for r in rules]
