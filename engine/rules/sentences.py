"""Compiled rules as sentences a compliance reviewer can read, in English or German."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.core.messages import DEFAULT_LANG, Money, Text, Verbatim, has_message, msg, number_text
from engine.journey.document import Journey
from engine.journey.fields import BUILTIN_FIELDS, field_label
from engine.nodes import NODE_TYPES
from engine.nodes.base import Clause, RuleSpec
from engine.rules import policy
from engine.rules.compiler import CompiledJourney
from engine.rules.model import CompiledRule

# Fields whose German label is plural ("die Tage im Verzug"): their verb is plural too.
_PLURAL_FIELDS = frozenset({"days_overdue", "messages_sent"})


def clause_words(clause: Clause, currency: str, lang: str = DEFAULT_LANG) -> str:
    """'the open amount is above 100 EUR' / 'der offene Betrag über 100,00 € liegt'."""
    return _clause(clause, currency).text(lang)


def _clause(clause: Clause, currency: str) -> Text:
    if clause.field == "arm":
        return msg("clause.arm", arm=clause.value)
    if clause.field == "has_promise":
        return msg("clause.has_promise" if clause.value else "clause.no_promise")
    if clause.field == "promise_kept":
        return msg("clause.promise_kept" if clause.value else "clause.promise_not_kept")
    statement = _boolean_statement(clause)
    if statement is not None:
        return statement
    plural = "op_plural" if clause.field in _PLURAL_FIELDS else "op"
    return msg(
        f"clause.{plural}.{clause.op}",
        field=_FieldLabel(clause.field),
        value=_Values(clause, currency),
    )


def _boolean_statement(clause: Clause) -> Text | None:
    """'no email address is known' rather than 'an email address is known is no'."""
    known = BUILTIN_FIELDS.get(clause.field)
    if known is None or clause.op not in ("eq", "ne") or not isinstance(clause.value, bool):
        return None
    holds = clause.value == (clause.op == "eq")
    key = f"clause.{clause.field}.{'true' if holds else 'false'}"
    return msg(key) if has_message(key) else None


@dataclass(frozen=True)
class _FieldLabel:
    """A case field's label, which engine.journey.fields knows in both languages."""

    name: str

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """'the open amount' / 'der offene Betrag'."""
        return field_label(self.name, lang)


class _Values:
    """A clause's value(s): amounts in the journey's currency, days, yes/no, quoted words."""

    def __init__(self, clause: Clause, currency: str) -> None:
        known = BUILTIN_FIELDS.get(clause.field)
        self.unit = known.unit if known else ""
        self.values = clause.value if isinstance(clause.value, list) else [clause.value]
        self.currency = currency

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The values in `lang`, separated by commas."""
        return ", ".join(self._one(v).text(lang) for v in self.values)

    def _one(self, value: Any) -> Text:
        if isinstance(value, bool):
            return msg("value.yes" if value else "value.no")
        if self.unit == "currency":
            return Money(value, self.currency)
        if self.unit == "days" and isinstance(value, int | float):
            return msg("value.days", n=value)
        if self.unit:
            return Verbatim(f"{value} {self.unit}")
        if isinstance(value, str):
            return Verbatim(f"'{value}'")
        return _Number(value)


@dataclass(frozen=True)
class _Number:
    """A bare number with the language's decimal mark."""

    value: Any

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """'2.5' / '2,5'; anything that is not a number as written."""
        if lang == DEFAULT_LANG or not isinstance(self.value, int | float):
            return str(self.value)
        return number_text(self.value, lang)


def rule_sentence(rule: CompiledRule, journey: Journey, lang: str = DEFAULT_LANG) -> str:
    """One rule of a journey as a sentence."""
    return _sentence(rule, journey, _phrase(rule, journey, _specs(journey, rule.node))).text(lang)


def _sentence(rule: CompiledRule, journey: Journey, phrase: Text) -> Text:
    nodes = journey.nodes_by_id()
    label = _label(nodes, rule.node)
    if rule.trigger == "enter":
        parts: list[Text] = [msg("sentence.arrives", node=label)]
        if rule.phrase != "it arrives":
            parts.append(phrase)
    else:
        parts = [msg("sentence.is_at", node=label), phrase]
    parts += [_clause(c, journey.currency) for c in rule.when]
    if rule.otherwise:
        parts.append(msg("sentence.otherwise"))
    if rule.outcome:
        then = msg("sentence.end_as", outcome=_outcome(rule.outcome))
    elif rule.target:
        then = msg("sentence.go_to", node=_label(nodes, rule.target))
    else:
        then = msg("sentence.stop")
    when = parts[0]
    for part in parts[1:]:
        when = msg("sentence.and", first=when, second=part)
    return msg("sentence.rule", when=when, then=then)


def _outcome(outcome: str) -> Text:
    key = f"outcome.{outcome}"
    return msg(key) if has_message(key) else Verbatim(outcome.replace("_", " "))


def _specs(journey: Journey, node_id: str) -> list[RuleSpec]:
    """The rule specs a node compiles to now: they carry the phrase's words in every language."""
    node = journey.nodes_by_id().get(node_id)
    node_type = NODE_TYPES.get(node.type) if node else None
    if node is None or node_type is None:
        return []
    return node_type.compile(node, journey)


def _phrase(rule: CompiledRule, journey: Journey, specs: list[RuleSpec]) -> Text:
    """The rule's trigger phrase in any language; the stored English where the words are gone.

    A compiled rule stores only the English phrase (it is part of the ruleset's hash); the words
    come from compiling the node again, and count only if they still read the same in English.
    """
    for spec in specs:
        same = (spec.trigger, spec.port, spec.pri) == (rule.trigger, rule.port, rule.pri)
        if same and spec.words is not None and spec.phrase == rule.phrase:
            return spec.words
    return Verbatim(rule.phrase)


def _label(nodes: dict[str, Any], node_id: str) -> str:
    node = nodes.get(node_id)
    return (node.label or node.id) if node else node_id


def policy_sentences(lang: str = DEFAULT_LANG) -> list[str]:
    """The policy rules that apply to every journey, as sentences."""
    return [msg("sentence.policy", rule=_policy_phrase(r)).text(lang) for r in policy.RULES]


def _policy_phrase(rule: CompiledRule) -> Text:
    """The catalog's words for a policy rule, if they still say what policy.py says in English."""
    key = f"policy.{rule.id}"
    if has_message(key) and msg(key).text() == rule.phrase:
        return msg(key)
    return Verbatim(rule.phrase)


def journey_sentences(
    compiled: CompiledJourney, journey: Journey, lang: str = DEFAULT_LANG
) -> list[str]:
    """Every rule of a journey, node by node in document order, as sentences."""
    order = {n.id: i for i, n in enumerate(journey.nodes)}
    rules = sorted(
        compiled.rules, key=lambda r: (order.get(r.node, 0), r.trigger != "enter", r.pri)
    )
    specs: dict[str, list[RuleSpec]] = {}
    sentences = []
    for rule in rules:
        if rule.node not in specs:  # compile each node once, not once per rule
            specs[rule.node] = _specs(journey, rule.node)
        phrase = _phrase(rule, journey, specs[rule.node])
        sentences.append(_sentence(rule, journey, phrase).text(lang))
    return sentences
