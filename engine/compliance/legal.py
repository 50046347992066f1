"""Legal content checks: what a message must say, or must not say, for the journey's situation.

The wording rules (`lint.py`) read one text alone; these read it in its journey: which step
sends it (the first message, a demand, the validation notice), who collects (the creditor or an
agency: `Journey.collector`), and which debtors the start step lets in (consumers, businesses).
The checks are data in the rule packs: `[[required]]` tables list the items a message must
carry (§13a RDG's first demand of an agency, Reg F's opt-out and validation notice, CONC 7's
offer of help), `[[forbidden]]` tables what it must not say there (the EUR 40 flat fee to a
consumer, a fee on the first reminder). Each finding names the template, the missing item and
the rule. One check is the graph's, not a text's: Regulation F's validation notice within five
days of the first communication (`validation_timing`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from engine.compliance.lint import plain
from engine.compliance.packs import LegalCheck, Pack, packs_for
from engine.compliance.patterns import Words, search
from engine.compliance.proofs import NEVER, ZERO, JourneyGraph, max_delay
from engine.core.messages import Bilingual
from engine.journey.document import Journey, Node, Template, send_templates

DEBTOR_TYPES = ("consumer", "business")
VALIDATION_DAYS = timedelta(days=5)  # US-07: 12 CFR 1006.34(a)(1)(i)(B)


@dataclass(frozen=True)
class LegalFinding:
    """A check a message fails: an item it lacks (`missing`) or words it must not use."""

    check: LegalCheck
    node: str
    template: str
    locale: str
    tone: int
    missing: tuple[Bilingual, ...] = ()  # the items' words, e.g. "how to opt out"
    excerpt: str = ""  # the forbidden words found
    values: dict[str, object] = field(default_factory=dict)


def legal_findings(journey: Journey) -> list[LegalFinding]:
    """Every legal content finding of a journey, in step order."""
    graph = JourneyGraph(journey)
    debtors = debtor_types(journey)
    first = first_messages(graph)
    out: list[LegalFinding] = []
    for node in journey.nodes:
        if node.type != "send":
            continue
        for template in _templates(journey, node):
            for variant in template.variants:
                packs = packs_for(_language(variant.locale), journey.jurisdiction)
                checks = [
                    c
                    for c in _checks(packs)
                    if _applies(c, journey, debtors, node, template, first)
                ]
                if not checks:
                    continue
                source = f"{variant.subject}\n{variant.body}"
                words = Words(plain(source))
                for check in checks:
                    found = _finding(check, words, source)
                    if found is not None:
                        out.append(
                            LegalFinding(
                                check,
                                node.id,
                                template.key,
                                variant.locale,
                                variant.tone,
                                *found,
                            )
                        )
    return out


def debtor_types(journey: Journey) -> frozenset[str]:
    """The debtor types the start step lets in (all, unless its filter names debtor_type)."""
    allowed = set(DEBTOR_TYPES)
    for node in journey.nodes:
        if node.type != "start":
            continue
        for clause in node.params.get("filter") or ():
            if not isinstance(clause, dict) or clause.get("field") != "debtor_type":
                continue
            value, op = clause.get("value"), clause.get("op")
            if op == "eq":
                allowed &= {value}
            elif op == "neq":
                allowed -= {value}
            elif op == "in" and isinstance(value, list):
                allowed &= set(value)
    return frozenset(allowed)


def first_messages(graph: JourneyGraph) -> frozenset[str]:
    """Send steps that can be the first message a case gets (no send before them on a path)."""
    if graph.start is None:
        return frozenset()
    found, seen, stack = set(), {graph.start}, [graph.start]
    while stack:
        node = stack.pop()
        for _, nxt, _ in graph.out[node]:
            if nxt in seen:
                continue
            seen.add(nxt)
            if nxt in graph.sends:
                found.add(nxt)
            else:
                stack.append(nxt)
    return frozenset(found)


def validation_timing(journey: Journey) -> list[tuple[str, timedelta | None]]:
    """First messages not followed by a validation notice within five days on every path.

    Returns (step, the longest time to the notice; None when some path has none). Applies to a
    US journey of a collection agency (US-07), where the notice must be in the first
    communication or follow it within five days.
    """
    if journey.jurisdiction != "US" or journey.collector != "agency":
        return []
    graph = JourneyGraph(journey)
    out = []
    for first in sorted(first_messages(graph)):
        if _purpose(graph.sends[first]) == "validation_notice":
            continue
        longest = _longest_to_notice(graph, first)
        if longest is None or longest > VALIDATION_DAYS:
            out.append((first, longest))
    return out


def _longest_to_notice(graph: JourneyGraph, first: str) -> timedelta | None:
    """The most time any path from `first` takes to reach a validation notice (None: never)."""
    memo: dict[str, timedelta | None] = {}
    on_path: set[str] = set()

    def worst(node: str) -> timedelta | None:
        if (
            node != first
            and node in graph.sends
            and _purpose(graph.sends[node]) == ("validation_notice")
        ):
            return ZERO
        if node in memo:
            return memo[node]
        if node in on_path or not graph.out[node]:
            return None  # a loop or an end before any notice
        on_path.add(node)
        result: timedelta | None = ZERO
        for port, nxt, _ in graph.out[node]:
            spent = max_delay(graph.nodes[node], port)
            rest = worst(nxt)
            if rest is None or spent == NEVER or result is None:
                result = None
                break
            result = max(result, spent + rest)
        on_path.discard(node)
        memo[node] = result
        return result

    return worst(first)


def _purpose(node: Node) -> str:
    return str(node.params.get("purpose") or "reminder")


def _language(locale: str) -> str:
    return locale.split("-")[0].split("_")[0].lower()


def _templates(journey: Journey, node: Node) -> Iterator[Template]:
    for key in send_templates(node.params):
        template = journey.templates.get(key or "")
        if template is not None:
            yield template


def _checks(packs: tuple[Pack, ...]) -> Iterator[LegalCheck]:
    for pack in packs:
        yield from pack.legal


def _applies(
    check: LegalCheck,
    journey: Journey,
    debtors: frozenset[str],
    node: Node,
    template: Template,
    first: frozenset[str],
) -> bool:
    """Whether a check is about this step: its collector, debtors, channel and step."""
    if check.collectors and journey.collector not in check.collectors:
        return False
    if check.debtor_types and not debtors & set(check.debtor_types):
        return False
    if check.channels and template.channel not in check.channels:
        return False
    if check.steps == "first":
        return node.id in first
    if check.steps.startswith("purpose:"):
        return _purpose(node) in check.steps.removeprefix("purpose:").split(",")
    return True


def _finding(
    check: LegalCheck, words: Words, source: str
) -> tuple[tuple[Bilingual, ...], str] | None:
    """(missing items, forbidden words) when the text fails the check, else None."""
    if check.kind == "required":
        missing = tuple(
            item.words
            for item in check.items
            if not any(search(p, words) for p in item.patterns)
            and not any(_uses(source, v) for v in item.variables)
        )
        return (missing, "") if missing else None
    span = next(filter(None, (search(p, words) for p in check.patterns)), None)
    if span is None or any(search(p, words) for p in check.unless):
        return None
    return (), " ".join(words.words[span[0] : span[1] + 1])


def _uses(source: str, variable: str) -> bool:
    """Whether a template prints a variable: `{{ unsubscribe_url }}`, `{{ f(unsubscribe_url) }}`."""
    return re.search(r"\{\{[^}]*\b" + re.escape(variable) + r"\b", source) is not None


# -- DE-02: statutory interest stated at the rate the data gives ------------------------------

# Words that claim interest in a German text: Zinsen, Verzugszinsen, Zinssatz (not the
# Basiszinssatz alone, which only names the base).
INTEREST_CLAIM = re.compile(r"\b(?:verzugs)?zins", re.IGNORECASE)
# "5 Prozentpunkte über dem (jeweiligen) Basiszinssatz", "9 %-Punkte über dem Basiszinssatz".
STATED_POINTS = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(?:prozentpunkte\w*|%-punkte\w*)\s+über\s+dem\s+"
    r"(?:jeweiligen\s+)?basiszinssatz",
    re.IGNORECASE,
)
STATED_RATE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(?:%|prozent)", re.IGNORECASE)
RATE_VARIABLES = ("interest_rate", "interest_rate_words")
INTEREST_SOURCE = "§ 288 Abs. 1, 2 BGB; § 247 BGB (DE-02)"


@dataclass(frozen=True)
class InterestFinding:
    """DE-02: a German text claims interest at a rate the data (or contract) does not give, or
    names none; or a journey charges interest that no demand states (`template` is '')."""

    kind: str  # "no_rate" | "wrong_points" | "wrong_rate" | "not_stated"
    node: str | None
    template: str = ""
    locale: str = ""
    tone: int = 0
    values: dict[str, object] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """A wrong rate blocks; a missing one needs a reviewer's waiver."""
        return "BLOCK" if self.kind in ("wrong_points", "wrong_rate") else "HIGH"


def interest_findings(journey: Journey) -> list[InterestFinding]:
    """DE-02 over a German journey's texts and its interest settings."""
    if journey.jurisdiction != "DE":
        return []
    from engine.money import balance, rates  # data the compliance room reads, not SQL

    settings = balance.interest_settings(journey)
    debtors = debtor_types(journey)
    points = {
        str(rule.points)
        for debtor, rule in (rates.jurisdiction("DE") or _NO_RATES).statutory.items()
        if debtor in debtors
    }
    out: list[InterestFinding] = []
    stated_in_demand = False
    sends = [n for n in journey.nodes if n.type == "send"]
    demands = any(_purpose(n) == "demand" for n in sends)
    for node in sends:
        for template in _templates(journey, node):
            for variant in template.variants:
                if _language(variant.locale) != "de":
                    continue
                source = f"{variant.subject}\n{variant.body}"
                text = plain(source)
                if not INTEREST_CLAIM.search(text) and not any(
                    _uses(source, v) for v in RATE_VARIABLES
                ):
                    continue
                if _purpose(node) == "demand" or not demands:
                    stated_in_demand = True
                found = _interest_text(settings, points, source, text)
                if found is not None:
                    kind, values = found
                    where = (node.id, template.key, variant.locale, variant.tone)
                    out.append(InterestFinding(kind, *where, values=values))
    if settings.mode != "off" and not stated_in_demand:
        out.append(InterestFinding("not_stated", None, values={"mode": settings.mode}))
    return out


def _interest_text(
    settings: Any, points: set[str], source: str, text: str
) -> tuple[str, dict[str, object]] | None:
    """What is wrong with one German text that claims interest; None when nothing is."""
    if any(_uses(source, v) for v in RATE_VARIABLES):
        return None  # the rate comes from the data (or the contract) at render time
    if settings.mode == "fixed":
        rate = str(settings.rate)
        stated = [_number(m.group(1)) for m in STATED_RATE.finditer(text)]
        if not stated:
            return "no_rate", {"rate": rate}
        if all(s != _number(rate) for s in stated):
            return "wrong_rate", {"rate": rate, "stated": stated[0]}
        return None
    stated_points = [_number(m.group(1)) for m in STATED_POINTS.finditer(text)]
    if not stated_points:
        return "no_rate", {"points": sorted(points)}
    wrong = sorted({s for s in stated_points if s not in {_number(p) for p in points}})
    if wrong or len({_number(p) for p in points}) > 1:
        return "wrong_points", {"points": sorted(points), "stated": ", ".join(map(str, wrong))}
    return None


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ".")).normalize()


class _NoRates:
    statutory: dict[str, Any] = {}


_NO_RATES = _NoRates()
