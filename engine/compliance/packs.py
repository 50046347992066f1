"""Rule packs: TOML files in `packs/`, one per language (`de.toml`) plus jurisdiction overlays
(`de.DE.toml`, `en.US.toml`, `en.UK.toml`) whose rules add to the language's; `docs/compliance.md`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from engine.compliance.patterns import Pattern, PatternError, compile_pattern, trigger
from engine.core.messages import LANGUAGES, Bilingual

PACK_DIR = Path(__file__).parent / "packs"
SEVERITIES = ("BLOCK", "HIGH", "MED")
TONE_LEVELS = (1, 2, 3, 4)
_RULE_FIELDS = {"id", "severity", "source", "reason", "suggestion", "patterns", "unless"}
_RULE_FIELDS |= {"examples", "channels", "consequence", "unless_final", "min_days"}
_CONSEQUENCE_FIELDS = {"id", "patterns", "unless", "outcomes", "webhook_events", "examples"}
_LEGAL_FIELDS = {"id", "severity", "source", "reason", "suggestion", "steps", "channels"}
_LEGAL_FIELDS |= {"collectors", "debtor_types", "items", "patterns", "unless", "examples"}
_ITEM_FIELDS = {"id", "words", "patterns", "variables"}
STEPS = ("every", "first")  # or "purpose:<purpose>[,<purpose>...]"
# A finding's words are read in English and German: each is written in both (`reason.en`, ...).
LANGUAGE_NAMES = {"en": "English", "de": "German"}


class PackError(ValueError):
    """A rule pack that cannot be used; the message names the file, the rule and the field."""

    def __init__(self, path: Path, rule: str | None, field: str | None, problem: str) -> None:
        where = (
            path.name
            + (f", rule '{rule}'" if rule else "")
            + (f", field '{field}'" if field else "")
        )
        super().__init__(f"rule pack {where}: {problem}")
        self.path, self.rule, self.field, self.problem = path, rule, field, problem


@dataclass(frozen=True)
class Rule:
    """One wording rule: it fires when a pattern matches and no `unless` pattern does."""

    id: str
    severity: str
    source: str
    reason: Bilingual
    suggestion: Bilingual
    patterns: tuple[Pattern, ...]
    unless: tuple[Pattern, ...] = ()
    channels: tuple[str, ...] = ()  # empty: every channel
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    pack: str = ""
    # Context rules (read the journey, engine/compliance/proofs.py `template_context`):
    consequence: str | None = None  # an empty threat: silent where the steps really do it
    unless_final: bool = False  # silent where no step sending the text can send another
    min_days: int | None = None  # a deadline rule: fires on a number (`#`) of days below it

    @cached_property
    def trigger(self) -> re.Pattern[str]:
        """Finds nothing in a text the rule cannot fire on (patterns.trigger)."""
        return trigger(self.patterns)


@dataclass(frozen=True)
class Consequence:
    """Something a message may announce (an agency, a court order, a credit-bureau report) and
    the steps that really do it: end outcomes, or webhook events (glob patterns) to the host."""

    id: str
    patterns: tuple[Pattern, ...]
    unless: tuple[Pattern, ...] = ()
    outcomes: tuple[str, ...] = ()
    webhook_events: tuple[str, ...] = ()
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegalItem:
    """Something a message must carry: found by a pattern or by printing one of `variables`."""

    id: str
    words: Bilingual  # what is missing, as the finding says it ("how to opt out")
    patterns: tuple[Pattern, ...] = ()
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class LegalCheck:
    """A legal content check (`[[required]]` or `[[forbidden]]`) and the steps it is about."""

    kind: str  # "required" or "forbidden"
    id: str
    severity: str
    source: str
    reason: Bilingual
    suggestion: Bilingual
    steps: str = "every"  # every | first | purpose:<p>[,<p>]
    channels: tuple[str, ...] = ()
    collectors: tuple[str, ...] = ()  # creditor, agency; empty: both
    debtor_types: tuple[str, ...] = ()  # consumer, business; empty: both
    items: tuple[LegalItem, ...] = ()  # required
    patterns: tuple[Pattern, ...] = ()  # forbidden
    unless: tuple[Pattern, ...] = ()
    examples_match: tuple[str, ...] = ()  # forbidden: sentences it finds; required: passing texts
    examples_no_match: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pack:
    """One pack file's rules, firmness markers and readability default."""

    path: Path
    language: str
    jurisdiction: str | None
    rules: tuple[Rule, ...]
    firmness: tuple[tuple[int, Pattern], ...]
    readability: dict[str, Any]
    consequences: tuple[Consequence, ...] = ()
    legal: tuple[LegalCheck, ...] = ()

    @cached_property
    def firmness_triggers(self) -> dict[int, re.Pattern[str]]:
        """Per firmness level, a regex that finds nothing where no marker of it can match."""
        levels = sorted({level for level, _ in self.firmness})
        return {lv: trigger(tuple(p for x, p in self.firmness if x == lv)) for lv in levels}


def load_pack(path: Path) -> Pack:
    """Parse and check one pack file; raises PackError naming file, rule and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PackError(path, None, None, f"not valid TOML: {exc}") from exc
    except OSError as exc:
        raise PackError(path, None, None, f"cannot be read: {exc}") from exc
    head = data.get("pack")
    if not isinstance(head, dict) or not isinstance(head.get("language"), str):
        raise PackError(path, None, "pack.language", "a [pack] table with a language is required")
    rules, seen = [], set()
    for i, raw in enumerate(_tables(path, data, "rule")):
        rule = _rule(path, raw, i)
        if rule.id in seen:
            raise PackError(path, rule.id, "id", "the id is used twice")
        seen.add(rule.id)
        rules.append(rule)
    firmness = []
    for i, raw in enumerate(_tables(path, data, "firmness")):
        name = f"firmness #{i + 1}"
        level = raw.get("level")
        if level not in TONE_LEVELS:
            raise PackError(path, name, "level", "must be 1, 2, 3 or 4")
        firmness += [(level, p) for p in _patterns(path, name, "patterns", raw.get("patterns"))]
    readability = head.get("readability", {})
    if not isinstance(readability, dict):
        raise PackError(path, None, "pack.readability", "must be a table")
    for key in ("max", "min", "min_words"):
        if key in readability and not isinstance(readability[key], int | float):
            raise PackError(path, None, f"pack.readability.{key}", "must be a number")
    consequences = tuple(
        _consequence(path, raw, i) for i, raw in enumerate(_tables(path, data, "consequence"))
    )
    if len({c.id for c in consequences}) < len(consequences):
        raise PackError(path, None, "consequence", "a consequence id is used twice")
    named = {c.id for c in consequences}
    for rule in rules:  # an overlay's rule may name its language pack's consequences
        if rule.consequence and not head.get("jurisdiction") and rule.consequence not in named:
            raise PackError(
                path, rule.id, "consequence", f"no [[consequence]] '{rule.consequence}'"
            )
    legal = tuple(
        _legal(path, kind, raw, i)
        for kind in ("required", "forbidden")
        for i, raw in enumerate(_tables(path, data, kind))
    )
    if len({c.id for c in legal} | seen) < len(legal) + len(seen):
        raise PackError(path, None, "required", "a legal check's id is used twice (or by a rule)")
    return Pack(
        path,
        head["language"],
        head.get("jurisdiction"),
        tuple(rules),
        tuple(firmness),
        readability,
        consequences,
        legal,
    )


def _tables(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PackError(path, None, key, f"write each entry as [[{key}]]")
    return tables


def _rule(path: Path, raw: dict[str, Any], index: int) -> Rule:
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise PackError(path, f"#{index + 1}", "id", "every rule needs an id")
    unknown = set(raw) - _RULE_FIELDS
    if unknown:
        raise PackError(path, rule_id, sorted(unknown)[0], "unknown field")
    if raw.get("severity") not in SEVERITIES:
        raise PackError(path, rule_id, "severity", "must be BLOCK, HIGH or MED")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise PackError(path, rule_id, "source", "a non-empty string is required")
    reason = _bilingual(path, rule_id, "reason", raw.get("reason"))
    suggestion = _bilingual(path, rule_id, "suggestion", raw.get("suggestion"))
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise PackError(path, rule_id, "examples", "a table with 'match' and 'no_match' lists")
    for key in ("match", "no_match"):
        if not _strings(examples.get(key, [])):
            raise PackError(path, rule_id, f"examples.{key}", "must be a list of strings")
    if not _strings(raw.get("channels", [])):
        raise PackError(path, rule_id, "channels", "must be a list of channel names")
    consequence = raw.get("consequence")
    if consequence is not None and (not isinstance(consequence, str) or not consequence):
        raise PackError(path, rule_id, "consequence", "must name a [[consequence]] id")
    if not isinstance(raw.get("unless_final", False), bool):
        raise PackError(path, rule_id, "unless_final", "must be true or false")
    min_days = raw.get("min_days")
    if min_days is not None and (type(min_days) is not int or not 1 <= min_days <= 365):
        raise PackError(path, rule_id, "min_days", "must be a whole number of days, 1 to 365")
    return Rule(
        id=rule_id,
        severity=raw["severity"],
        source=raw["source"],
        reason=reason,
        suggestion=suggestion,
        patterns=_patterns(path, rule_id, "patterns", raw.get("patterns")),
        unless=_patterns(path, rule_id, "unless", raw.get("unless", []), empty_ok=True),
        channels=tuple(raw.get("channels", [])),
        examples_match=tuple(examples.get("match", [])),
        examples_no_match=tuple(examples.get("no_match", [])),
        pack=path.name,
        consequence=consequence,
        unless_final=raw.get("unless_final", False),
        min_days=min_days,
    )


def _consequence(path: Path, raw: dict[str, Any], index: int) -> Consequence:
    name = raw.get("id")
    if not isinstance(name, str) or not name:
        raise PackError(path, f"consequence #{index + 1}", "id", "every consequence needs an id")
    unknown = set(raw) - _CONSEQUENCE_FIELDS
    if unknown:
        raise PackError(path, name, sorted(unknown)[0], "unknown field")
    for key in ("outcomes", "webhook_events"):
        if not _strings(raw.get(key, [])):
            raise PackError(path, name, key, "must be a list of strings")
    if not raw.get("outcomes") and not raw.get("webhook_events"):
        raise PackError(path, name, "outcomes", "name the outcomes or webhook events that do it")
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise PackError(path, name, "examples", "a table with 'match' and 'no_match' lists")
    for key in ("match", "no_match"):
        if not _strings(examples.get(key, [])):
            raise PackError(path, name, f"examples.{key}", "must be a list of strings")
    return Consequence(
        id=name,
        patterns=_patterns(path, name, "patterns", raw.get("patterns")),
        unless=_patterns(path, name, "unless", raw.get("unless", []), empty_ok=True),
        outcomes=tuple(raw.get("outcomes", [])),
        webhook_events=tuple(raw.get("webhook_events", [])),
        examples_match=tuple(examples.get("match", [])),
        examples_no_match=tuple(examples.get("no_match", [])),
    )


def _legal(path: Path, kind: str, raw: dict[str, Any], index: int) -> LegalCheck:
    name = raw.get("id")
    if not isinstance(name, str) or not name:
        raise PackError(path, f"{kind} #{index + 1}", "id", "every check needs an id")
    # A required check lists items; a forbidden one has patterns (and exceptions) instead.
    allowed = _LEGAL_FIELDS - ({"patterns", "unless"} if kind == "required" else {"items"})
    unknown = set(raw) - allowed
    if unknown:
        raise PackError(path, name, sorted(unknown)[0], "unknown field")
    if raw.get("severity") not in SEVERITIES:
        raise PackError(path, name, "severity", "must be BLOCK, HIGH or MED")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise PackError(path, name, "source", "a non-empty string is required")
    reason = _bilingual(path, name, "reason", raw.get("reason"))
    suggestion = _bilingual(path, name, "suggestion", raw.get("suggestion"))
    steps = raw.get("steps", "every")
    if not isinstance(steps, str) or not (steps in STEPS or steps.startswith("purpose:")):
        raise PackError(path, name, "steps", "must be 'every', 'first' or 'purpose:<purpose>'")
    for key in ("channels", "collectors", "debtor_types"):
        if not _strings(raw.get(key, [])):
            raise PackError(path, name, key, "must be a list of strings")
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise PackError(path, name, "examples", "a table with 'match' and 'no_match' lists")
    for key in ("match", "no_match"):
        if not _strings(examples.get(key, [])):
            raise PackError(path, name, f"examples.{key}", "must be a list of strings")
    items: tuple[LegalItem, ...] = ()
    patterns: tuple[Pattern, ...] = ()
    if kind == "required":
        listed = raw.get("items")
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(i, dict) for i in listed)
        ):
            raise PackError(path, name, "items", "a list of tables {id, words, patterns}")
        items = tuple(_item(path, name, item, i) for i, item in enumerate(listed))
    else:
        patterns = _patterns(path, name, "patterns", raw.get("patterns"))
    return LegalCheck(
        kind=kind,
        id=name,
        severity=raw["severity"],
        source=raw["source"],
        reason=reason,
        suggestion=suggestion,
        steps=steps,
        channels=tuple(raw.get("channels", [])),
        collectors=tuple(raw.get("collectors", [])),
        debtor_types=tuple(raw.get("debtor_types", [])),
        items=items,
        patterns=patterns,
        unless=_patterns(path, name, "unless", raw.get("unless", []), empty_ok=True),
        examples_match=tuple(examples.get("match", [])),
        examples_no_match=tuple(examples.get("no_match", [])),
    )


def _item(path: Path, check: str, raw: dict[str, Any], index: int) -> LegalItem:
    where = f"items[{index}]"
    unknown = set(raw) - _ITEM_FIELDS
    if unknown:
        raise PackError(path, check, f"{where}.{sorted(unknown)[0]}", "unknown field")
    if not isinstance(raw.get("id"), str) or "words" not in raw:
        raise PackError(path, check, where, "an item needs an id and its words")
    words = _bilingual(path, check, f"{where}.words", raw["words"])
    if not _strings(raw.get("variables", [])):
        raise PackError(path, check, f"{where}.variables", "must be a list of variable names")
    if not raw.get("patterns") and not raw.get("variables"):
        raise PackError(path, check, where, "an item needs patterns or variables")
    return LegalItem(
        id=raw["id"],
        words=words,
        patterns=_patterns(
            path, check, f"{where}.patterns", raw.get("patterns", []), empty_ok=True
        ),
        variables=tuple(raw.get("variables", [])),
    )


def _bilingual(path: Path, rule: str, field: str, value: Any) -> Bilingual:
    """Words a finding shows, written in every language: `reason.en = "..."`, `reason.de`."""
    if not isinstance(value, dict):
        written = " and ".join(f'{field}.{lang} = "..."' for lang in LANGUAGES)
        raise PackError(path, rule, field, f"write it in every language: {written}")
    for lang in LANGUAGES:
        if lang not in value:
            raise PackError(path, rule, f"{field}.{lang}", f"the {LANGUAGE_NAMES[lang]} is missing")
        if not isinstance(value[lang], str) or not value[lang].strip():
            raise PackError(path, rule, f"{field}.{lang}", "a non-empty string is required")
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise PackError(path, rule, f"{field}.{unknown[0]}", "unknown language (en, de)")
    return Bilingual(en=value["en"].strip(), de=value["de"].strip())


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _patterns(
    path: Path, rule: str, field: str, value: Any, empty_ok: bool = False
) -> tuple[Pattern, ...]:
    if not _strings(value) or (not value and not empty_ok):
        raise PackError(path, rule, field, "must be a list of patterns (strings)")
    compiled = []
    for i, source in enumerate(value):
        try:
            compiled.append(compile_pattern(source))
        except PatternError as exc:
            raise PackError(path, rule, f"{field}[{i}]", str(exc)) from exc
    return tuple(compiled)


@cache
def packs_for(
    language: str, jurisdiction: str | None, pack_dir: Path = PACK_DIR
) -> tuple[Pack, ...]:
    """The language pack and its overlay for the jurisdiction (if any); () without a pack."""
    base = pack_dir / f"{language}.toml"
    if not base.exists():
        return ()
    packs = [load_pack(base)]
    overlay = pack_dir / f"{language}.{jurisdiction}.toml"
    if jurisdiction and overlay.exists():
        packs.append(load_pack(overlay))
    return tuple(packs)


def all_pack_files(pack_dir: Path = PACK_DIR) -> list[Path]:
    """Every pack file shipped (the tests check each rule's examples)."""
    return sorted(pack_dir.glob("*.toml"))
