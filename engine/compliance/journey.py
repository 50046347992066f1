"""Lint a whole journey: every template variant's wording, its firmness against its declared
tone, its readability, and the tone ladder along the journey's paths."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.compliance.lint import (
    UNSENT,
    Finding,
    TemplateContext,
    code_deadlines,
    firmness,
    lint_text,
    plain,
    readability,
)
from engine.compliance.packs import Pack, packs_for
from engine.compliance.proofs import template_contexts
from engine.journey.document import Journey, Node, Template, TemplateVariant

PARTS = ("subject", "body")


@dataclass(frozen=True)
class Where:
    """The template variant a finding is about (journey, key, channel, locale, tone)."""

    journey: str
    template: str
    channel: str
    locale: str
    tone: int
    part: str = "body"

    @property
    def field(self) -> str:
        return f"templates.{self.template}.{self.locale}.tone{self.tone}.{self.part}"


@dataclass(frozen=True)
class JourneyFinding:
    """One finding: `kind` is rule, firmness, readability, ladder, step_firmness or no_pack."""

    kind: str
    severity: str  # BLOCK, HIGH or MED
    where: Where | None = None
    node: str | None = None
    finding: Finding | None = None
    values: dict[str, object] = field(default_factory=dict)


def lint_journey(journey: Journey) -> list[JourneyFinding]:
    """All compliance findings of a parsed journey, in document order."""
    out: list[JourneyFinding] = []
    measured: dict[tuple[str, str, int], int] = {}
    contexts = template_contexts(journey)
    for template in journey.templates.values():
        context = contexts.get(template.key, UNSENT)
        for variant in template.variants:
            out += _variant(journey, template, variant, measured, context)
    out += _steps(journey, measured)
    return out


def variant_findings(journey: Journey, key: str, locale: str, tone: int) -> list[JourneyFinding]:
    """The findings of one template variant in its journey (the editor's live view): its
    wording in the context of the steps that send it, firmness and readability; only that
    variant is linted, so the time is bounded by its own text."""
    template = journey.templates.get(key)
    variant = next(
        (v for v in template.variants if (v.locale, v.tone) == (locale, tone)) if template else (),
        None,
    )
    if template is None or variant is None:
        return []
    context = template_contexts(journey).get(key, UNSENT)
    return _variant(journey, template, variant, {}, context)


def _language(locale: str) -> str:
    return locale.split("-")[0].split("_")[0].lower()


def _packs(journey: Journey, locale: str) -> tuple[Pack, ...]:
    return packs_for(_language(locale), journey.jurisdiction)


def _variant(
    journey: Journey,
    template: Template,
    variant: TemplateVariant,
    measured: dict[tuple[str, str, int], int],
    context: TemplateContext = UNSENT,
) -> list[JourneyFinding]:
    base = Where(journey.key, template.key, template.channel, variant.locale, variant.tone)
    packs = _packs(journey, variant.locale)
    if not packs:
        return [
            JourneyFinding("no_pack", "MED", base, values={"language": _language(variant.locale)})
        ]
    out = []
    texts = {part: plain(getattr(variant, part) or "") for part in PARTS}
    for part, text in texts.items():
        where = Where(**{**base.__dict__, "part": part})
        found_here = lint_text(text, packs, template.channel, context)
        named = {f.rule for f in found_here}
        source = getattr(variant, part) or ""
        found_here += [
            f for f in code_deadlines(source, packs, template.channel) if f.rule not in named
        ]
        for found in found_here:
            out.append(JourneyFinding("rule", found.severity, where, finding=found))
    whole = "\n".join(texts.values())
    level, marker = firmness(whole, packs)
    measured[(template.key, variant.locale, variant.tone)] = level
    if level != variant.tone:
        severity = "HIGH" if level > variant.tone else "MED"
        out.append(
            JourneyFinding("firmness", severity, base, values={"measured": level, "marker": marker})
        )
    out += _readability(base, texts["body"], packs, journey_target(journey, variant.locale))
    return out


# Which way a language's readability measure points: German's Wiener Sachtextformel is a school
# grade (at most), English's Flesch reading ease a score (at least).
DIRECTION = {"de": "max", "en": "min"}


def journey_target(journey: Journey, locale: str) -> dict[str, int]:
    """The journey's own readability target for a locale's language (settings.readability),
    as a pack writes it ({"max": 10} or {"min": 60}); empty when the journey sets none."""
    language = _language(locale)
    value = ((journey.settings or {}).get("readability") or {}).get(language)
    return {DIRECTION[language]: value} if value is not None and language in DIRECTION else {}


def _readability(
    where: Where, text: str, packs: tuple[Pack, ...], own: dict[str, int] | None = None
) -> list[JourneyFinding]:
    default = packs[0].readability
    # The journey's target replaces the pack's limit; the pack still says how long a text must be.
    target = {k: v for k, v in default.items() if k == "min_words"} | own if own else default
    if len(text.split()) < target.get("min_words", 40):
        return []
    score = readability(text, _language(where.locale))
    if score is None:
        return []
    too_hard = ("max" in target and score > target["max"]) or (
        "min" in target and score < target["min"]
    )
    if not too_hard:
        return []
    limit = target.get("max", target.get("min"))
    values: dict[str, object] = {"score": round(score, 1), "target": limit}
    if own:
        values["set_by"] = "journey"
    return [JourneyFinding("readability", "MED", where, values=values)]


def _steps(journey: Journey, measured: dict[tuple[str, str, int], int]) -> list[JourneyFinding]:
    sends = {n.id: n for n in journey.nodes if n.type == "send"}
    out = []
    # The variant a step would send for each locale: its firmness must match the step's tone.
    for node in sends.values():
        tone = int(node.params.get("tone", 1))
        template = journey.templates.get(node.params.get("template", ""))
        if template is None:
            continue
        for locale in sorted({v.locale for v in template.variants}):
            chosen = template.variant(locale, tone)
            if chosen is None or chosen.tone == tone:
                continue  # the variant's own check covers it
            level = measured.get((template.key, chosen.locale, chosen.tone))
            if level is not None and level != tone:
                where = Where(
                    journey.key, template.key, template.channel, chosen.locale, chosen.tone
                )
                out.append(
                    JourneyFinding(
                        "step_firmness",
                        "HIGH" if level > tone else "MED",
                        where,
                        node.id,
                        values={"measured": level, "declared": tone},
                    )
                )
    # The ladder: a step's tone rises at most one level above the highest tone the case can
    # have been sent before it (the least such level over all paths from the start).
    for node_id, (tone, level) in _ladder(journey, sends).items():
        if tone > level + 1:
            out.append(
                JourneyFinding(
                    "ladder", "HIGH", None, node_id, values={"tone": tone, "level": level}
                )
            )
    return out


def _ladder(journey: Journey, sends: dict[str, Node]) -> dict[str, tuple[int, int]]:
    """Send step -> (its tone, the ladder level before it); the start counts as level 1."""
    incoming: dict[str, list[str]] = {}
    for edge in journey.edges:
        incoming.setdefault(edge.target, []).append(edge.source)
    tone = {n: int(node.params.get("tone", 1)) for n, node in sends.items()}
    level = {n.id: (1 if n.type == "start" else 99) for n in journey.nodes}
    changed = True
    while changed:  # levels only fall, from 99 to 1..4: it ends after a few rounds
        changed = False
        for node in journey.nodes:
            preds = incoming.get(node.id, [])
            if not preds or node.type == "start":
                continue
            best = min(max(level.get(p, 99), tone.get(p, 0)) for p in preds)
            if best < level[node.id]:
                level[node.id], changed = best, True
    return {n: (tone[n], level[n]) for n in sends if level[n] < 99}
