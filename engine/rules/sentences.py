"""Compiled rules as sentences a compliance reviewer can read, in English or German."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.core.messages import (
    DEFAULT_LANG,
    Money,
    Text,
    Verbatim,
    msg,
    number_text,
    pmsg,
)
from engine.journey.document import Journey
from engine.journey.fields import BUILTIN_FIELDS, field_label
from engine.nodes import NODE_TYPES
from engine.nodes.base import Clause, RuleSpec
from engine.rules import policy
from engine.rules.compiler import CompiledJourney
from engine.rules.model import CompiledRule

# Fields whose German label is plural ("die Tage im Verzug"): their verb is plural too.
_PLURAL_FIELDS = frozenset({"days_overdue", "messages_sent", "days_since_last_payment"})


def clause_words(clause: Clause, currency: str, lang: str = DEFAULT_LANG) -> str:
    """'the open amount is above 100 EUR' / 'der offene Betrag über 100,00 € liegt'."""
    return _clause(clause, currency).text(lang)


def _clause(clause: Clause, currency: str) -> Text:
    if clause.field == "arm":
        return msg("the case is in arm '{arm}'", arm=clause.value)
    if clause.field == "has_promise":
        return msg("there is a promise") if clause.value else msg("there is no promise")
    if clause.field == "promise_kept":
        if clause.value:
            return msg("the promised amount has arrived")
        return msg("the promise is not met")
    statement = _boolean_statement(clause)
    if statement is not None:
        return statement
    words = _PLURAL_OPERATORS if clause.field in _PLURAL_FIELDS else _OPERATORS
    return words[clause.op].with_params(
        field=_FieldLabel(clause.field), value=_Values(clause, currency)
    )


# A clause on a case field, per operator. English says both alike; German needs the plural verb
# for plural fields ("die Tage im Verzug ... liegen"), so those carry the gettext context.
_OPERATORS = {
    "eq": msg("{field} is {value}"),
    "ne": msg("{field} is not {value}"),
    "gt": msg("{field} is above {value}"),
    "gte": msg("{field} is at least {value}"),
    "lt": msg("{field} is below {value}"),
    "lte": msg("{field} is at most {value}"),
    "in": msg("{field} is one of {value}"),
    "not_in": msg("{field} is none of {value}"),
}
_PLURAL_OPERATORS = {
    "eq": pmsg("plural field", "{field} is {value}"),
    "ne": pmsg("plural field", "{field} is not {value}"),
    "gt": pmsg("plural field", "{field} is above {value}"),
    "gte": pmsg("plural field", "{field} is at least {value}"),
    "lt": pmsg("plural field", "{field} is below {value}"),
    "lte": pmsg("plural field", "{field} is at most {value}"),
    "in": pmsg("plural field", "{field} is one of {value}"),
    "not_in": pmsg("plural field", "{field} is none of {value}"),
}


def _boolean_statement(clause: Clause) -> Text | None:
    """'no email address is known' rather than 'an email address is known is no'."""
    known = BUILTIN_FIELDS.get(clause.field)
    if known is None or clause.op not in ("eq", "ne") or not isinstance(clause.value, bool):
        return None
    holds = clause.value == (clause.op == "eq")
    return known.holds if holds else known.fails


@dataclass(frozen=True)
class _FieldLabel:
    """A case field's label, which engine.journey.fields words for every language."""

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
            return msg("yes") if value else msg("no")
        if self.unit == "currency":
            return Money(value, self.currency)
        if self.unit == "days" and isinstance(value, int | float):
            return msg("{n} days", n=value)
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
        parts: list[Text] = [msg("When a case arrives at '{node}'", node=label)]
        if rule.phrase != "it arrives":
            parts.append(phrase)
    else:
        parts = [msg("When a case is at '{node}'", node=label), phrase]
    parts += [_clause(c, journey.currency) for c in rule.when]
    if rule.otherwise:
        parts.append(msg("no way above applies"))
    if rule.outcome:
        then = msg("end the journey as {outcome}", outcome=_outcome(rule.outcome))
    elif rule.target:
        then = msg("go to '{node}'", node=_label(nodes, rule.target))
    else:
        then = msg("stop (this way is not connected)")
    when = parts[0]
    for part in parts[1:]:
        when = msg("{first} and {second}", first=when, second=part)
    return msg("{when}, {then}.", when=when, then=then)


# How a sentence names the outcome a rule ends the journey with.
_OUTCOMES = {
    "paid": msg("paid"),
    "handed_over": msg("handed over"),
    "written_off": msg("written off"),
    "closed": msg("closed"),
    "not_eligible": msg("not eligible"),
}


def outcome_text(outcome: str) -> Text:
    """A journey's outcome in any language ('handed over' / 'übergeben')."""
    return _outcome(outcome)


def _outcome(outcome: str) -> Text:
    return _OUTCOMES.get(outcome) or Verbatim(outcome.replace("_", " "))


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
    return [
        msg("At any step, when {rule}.", rule=_policy_phrase(r)).text(lang) for r in policy.RULES
    ]


def _policy_phrase(rule: CompiledRule) -> Text:
    """policy.py's words for a policy rule, if they still say what the rule says in English."""
    words = policy.WORDS.get(rule.id)
    if words is not None and words.text() == rule.phrase:
        return words
    return Verbatim(rule.phrase)


def journey_sentences(
    compiled: CompiledJourney, journey: Journey, lang: str = DEFAULT_LANG
) -> list[str]:
    """Every rule of a journey, node by node in document order, as sentences."""
    return [sentence for _, sentence in rule_sentences(compiled, journey, lang)]


def rule_sentences(
    compiled: CompiledJourney, journey: Journey, lang: str = DEFAULT_LANG
) -> list[tuple[str, str]]:
    """(rule id, sentence) for every rule, in journey_sentences' order (the rules page anchors)."""
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
        sentences.append((rule.id, _sentence(rule, journey, phrase).text(lang)))
    return sentences


def clause_text(clause: Clause, currency: str) -> Text:
    """A clause as words in any language ('the open amount is above 500 EUR')."""
    return _clause(clause, currency)


def value_text(field: str, value: Any, currency: str) -> Text:
    """A value a case field had, worded as the field's clauses word it (amounts with cents)."""
    if value is None:
        return msg("unknown")
    known = BUILTIN_FIELDS.get(field)
    if known is not None and known.unit == "currency" and isinstance(value, int | float):
        value = Decimal(str(value)).quantize(Decimal("0.01"))
    return _Values(Clause(field, "eq", value), currency)


def field_text(field: str) -> Text:
    """A case field's label in any language."""
    return _FieldLabel(field)


def policy_sentence(rule_id: str) -> Text | None:
    """One policy rule as a sentence in any language; None for an id policy.py does not know."""
    rule = policy.RULES_BY_ID.get(rule_id)
    if rule is None:
        return None
    return msg("At any step, when {rule}.", rule=_policy_phrase(rule))
