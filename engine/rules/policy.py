"""Journey-independent policy rules, evaluated before any journey rule sees an event."""

from __future__ import annotations

from typing import Any

from engine.core.messages import Text, msg
from engine.nodes.base import Clause
from engine.rules.model import CompiledRule, catch_all, durable_rule

RULESET = "mahnwerk.policy.v1"
FIELDS = ("amount_open", "hold_reason")

# (id, trigger event, clauses, action, words); action words are read by the runtime, and a
# rule's phrase is its words in English.
_RULES: tuple[tuple[str, str, tuple[Clause, ...], str, Text], ...] = (
    (
        "paid_in_full",
        "payment_received",
        (Clause("amount_open", "lte", 0),),
        "close:paid",
        msg("a payment leaves nothing open, end the journey as paid"),
    ),
    (
        "partial_payment",
        "payment_received",
        (Clause("amount_open", "gt", 0),),
        "continue",
        msg("a payment leaves an amount open, lower the balance and go on"),
    ),
    (
        "dispute",
        "dispute_opened",
        (),
        "hold:dispute",
        msg("the debtor disputes the claim, hold the case until the dispute is resolved"),
    ),
    (
        "cease_contact",
        "cease_contact",
        (),
        "hold:cease_contact",
        msg("the debtor asks not to be contacted, hold the case"),
    ),
    (
        "breathing_space",
        "breathing_space_started",
        (),
        "hold:breathing_space",
        msg("a breathing space starts, hold the case until it ends"),
    ),
    (
        "dispute_resolved",
        "dispute_resolved",
        (Clause("hold_reason", "eq", "dispute"),),
        "release",
        msg("a held dispute is resolved, go on where the case stood"),
    ),
    (
        "contact_resumed",
        "contact_resumed",
        (Clause("hold_reason", "eq", "cease_contact"),),
        "release",
        msg("contact is allowed again, go on where the case stood"),
    ),
    (
        "breathing_space_ended",
        "breathing_space_ended",
        (Clause("hold_reason", "eq", "breathing_space"),),
        "release",
        msg("the breathing space ends, go on where the case stood"),
    ),
    (
        "attorney",
        "attorney_represented",
        (),
        "hold:attorney",
        msg("an attorney represents the debtor, hold the case for contact through them"),
    ),
    (
        "attorney_withdrawn",
        "attorney_withdrawn",
        (Clause("hold_reason", "eq", "attorney"),),
        "release",
        msg("the attorney no longer represents the debtor, go on where the case stood"),
    ),
    (
        "insolvency",
        "insolvency",
        (),
        "stop:insolvency",
        msg("the debtor is insolvent, stop and hand the case to a person"),
    ),
    (
        "deceased",
        "deceased",
        (),
        "stop:deceased",
        msg("the debtor has died, stop and hand the case to a person"),
    ),
    (
        "case_closed",
        "case_closed",
        (),
        "close:closed",
        msg("the host system closes the case, end the journey as closed"),
    ),
)

RULES: tuple[CompiledRule, ...] = tuple(
    CompiledRule(rid, "*", trigger, action, None, when, 1, words.text())
    for rid, trigger, when, action, words in _RULES
)
WORDS: dict[str, Text] = {rid: words for rid, _, _, _, words in _RULES}  # phrases, any language
RULES_BY_ID = {r.id: r for r in RULES}
TRIGGERS = frozenset(r.trigger for r in RULES)


def definition() -> dict[str, Any]:
    """The policy ruleset in durable_rules' JSON form."""
    body = {r.id: durable_rule(r, {"trigger": r.trigger}) for r in RULES}
    body["catch_all"] = catch_all()
    return {RULESET: body}


def hold_kinds() -> dict[str, tuple[str, str | None, bool]]:
    """Each hold the policy rules know: kind -> (the event that starts it, the event that
    releases it or None, whether it stops the case for a person rather than holding it).

    Read from the rules themselves, so a staff form offers exactly what an event can do."""
    kinds: dict[str, tuple[str, str | None, bool]] = {}
    for rule in RULES:
        action, _, arg = rule.port.partition(":")
        if action in ("hold", "stop"):
            kinds[arg] = (rule.trigger, None, action == "stop")
    for _rid, trigger, when, action, _words in _RULES:
        if action != "release":
            continue
        for clause in when:
            if clause.field == "hold_reason" and clause.value in kinds:
                start, _none, stops = kinds[str(clause.value)]
                kinds[str(clause.value)] = (start, trigger, stops)
    return kinds
