"""Lint one text: wording rules, measured firmness and readability."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine.compliance.packs import Pack, Rule
from engine.compliance.patterns import Pattern, Words, search
from engine.core.messages import Bilingual

# Template code is not wording: statements vanish, each placeholder reads as one word.
_STATEMENT = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{.*?\}\}", re.DOTALL)
MAX_CHARS = 200_000  # a longer text is linted on its first MAX_CHARS characters


@dataclass(frozen=True)
class Finding:
    """A rule that fired on a text, with the words that made it fire."""

    rule: str
    severity: str
    reason: Bilingual  # in English and German, as the pack writes them
    suggestion: Bilingual
    source: str
    excerpt: str
    start: int = 0  # the words found: characters [start, end) of the linted text
    end: int = 0


@dataclass(frozen=True)
class TemplateContext:
    """What the journey does around the steps that send a text (`proofs.template_contexts`)."""

    carried: frozenset[str] = frozenset()  # consequences every step sending it carries out
    final: bool = False  # no step sending it can be followed by another message


UNSENT = TemplateContext()  # a text no step sends: every threat is empty, nothing is final


def plain(template_source: str) -> str:
    """The wording of a template: no statements, placeholders as the word 'X'.

    Its length is the source's (blanks stand in), so a finding's offsets mark the very
    characters of the template the editor shows."""
    text = _STATEMENT.sub(lambda m: " " * len(m.group()), template_source[:MAX_CHARS])
    return _PLACEHOLDER.sub(lambda m: " X".ljust(len(m.group())), text)


def lint_text(
    text: str,
    packs: tuple[Pack, ...],
    channel: str | None = None,
    context: TemplateContext | None = None,
) -> list[Finding]:
    """Every rule of the packs that fires on the text, sent in `context`; without one (a text
    alone) the context rules, which judge the journey, are left out."""
    words = Words(text[:MAX_CHARS])
    findings = []
    for pack in packs:
        for rule in pack.rules:
            if rule.channels and channel not in rule.channels:
                continue
            if rule.consequence or rule.unless_final:
                if context is None or rule.consequence in context.carried:
                    continue  # a true announcement: the journey does it
                if rule.unless_final and context.final:
                    continue  # nothing follows: "final" is true
            if not rule.trigger.search(words.text):
                continue
            span = next(filter(None, (_span(rule, p, words) for p in rule.patterns)), None)
            if span is None or any(search(p, words) for p in rule.unless):
                continue
            excerpt = " ".join(words.words[span[0] : span[1] + 1])
            start, end = words.char_span(*span)
            findings.append(
                Finding(
                    rule.id,
                    rule.severity,
                    rule.reason,
                    rule.suggestion,
                    rule.source,
                    excerpt,
                    start,
                    end,
                )
            )
    return findings


MAX_DEADLINES = 50  # the deadlines of a text a rule reads before it gives up looking


def _span(rule: Rule, pattern: Pattern, words: Words) -> tuple[int, int] | None:
    """Where the rule's pattern matches; a deadline rule (`min_days`) skips the matches whose
    number of days is not below its minimum."""
    if rule.min_days is None:
        return search(pattern, words)
    start = 0
    for _ in range(MAX_DEADLINES):
        span = search(pattern, words, start)
        if span is None:
            return None
        days = next((int(w) for w in words.words[span[0] : span[1] + 1] if w.isdigit()), None)
        if days is not None and days < rule.min_days:
            return span
        start = span[0] + 1
    return None


# `{{ deadline(3) }}` (engine/delivery/rendering.py) prints a date 3 days on: a deadline too.
_DEADLINE_CALL = re.compile(r"\{\{[^}]*?\bdeadline\(\s*(\d{1,4})[^}]*\}\}")


def code_deadlines(source: str, packs: tuple[Pack, ...], channel: str | None) -> list[Finding]:
    """Deadline rules on the template's own `deadline(n)` calls: the first call below each
    rule's minimum, at its placeholder's characters."""
    out = []
    for pack in packs:
        for rule in pack.rules:
            if rule.min_days is None or (rule.channels and channel not in rule.channels):
                continue
            for found in _DEADLINE_CALL.finditer(source[:MAX_CHARS]):
                if int(found.group(1)) < rule.min_days:
                    out.append(
                        Finding(
                            rule.id,
                            rule.severity,
                            rule.reason,
                            rule.suggestion,
                            rule.source,
                            found.group(),
                            found.start(),
                            found.end(),
                        )
                    )
                    break
    return out


def firmness(text: str, packs: tuple[Pack, ...]) -> tuple[int, str]:
    """The text's measured firmness (1..4, the highest marker found) and the marker's words."""
    words = Words(text[:MAX_CHARS])
    level, marker = 1, ""
    for pack in packs:
        for marker_level, pattern in pack.firmness:
            if marker_level > level and pack.firmness_triggers[marker_level].search(words.text):
                span = search(pattern, words)
                if span:
                    level, marker = marker_level, " ".join(words.words[span[0] : span[1] + 1])
    return level, marker


@cache
def _hyphenator(language: str) -> Any:
    import pyphen  # weasyprint's dependency too; loading a dictionary takes a moment

    return pyphen.Pyphen(lang={"en": "en_US", "de": "de_DE"}.get(language, language))


_LETTERS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def readability(text: str, language: str) -> float | None:
    """Wiener Sachtextformel (German, first variant: a school grade, lower is easier) or Flesch
    reading ease (English, 0-100: higher is easier); None for other languages or no words.

    The formulas are textstat's; textstat itself is not used (docs/compliance.md, "Cost").
    """
    if language not in ("de", "en"):
        return None
    text = text[:MAX_CHARS]
    words = _LETTERS.findall(text)
    if not words:
        return None
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    hyphenator = _hyphenator(language)
    syllables = [len(hyphenator.positions(w)) + 1 for w in words]
    n = len(words)
    if language == "en":
        return 206.835 - 1.015 * n / sentences - 84.6 * sum(syllables) / n
    many = 100 * sum(1 for s in syllables if s >= 3) / n  # MS: words of 3+ syllables, %
    long = 100 * sum(1 for w in words if len(w) > 6) / n  # IW: words over 6 letters, %
    one = 100 * sum(1 for s in syllables if s == 1) / n  # ES: one-syllable words, %
    return 0.1935 * many + 0.1672 * (n / sentences) + 0.1297 * long - 0.0327 * one - 0.875
