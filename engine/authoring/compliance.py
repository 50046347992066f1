"""Compliance findings as validation problems: BLOCK is an error, HIGH and MED are warnings.

The linter itself is `engine.compliance` (pure); this module only words its findings.
"""

from __future__ import annotations

from engine.compliance.journey import JourneyFinding, lint_journey
from engine.compliance.packs import PackError
from engine.core.messages import Text, Verbatim, msg
from engine.journey.document import Journey
from engine.nodes.base import Problem

RULE = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}), {part}: {rule} ({severity}): "
    '{reason} Found: "{excerpt}". Suggestion: {suggestion} Source: {source}'
)
FIRMNESS = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) reads as tone {measured} "
    '("{marker}"), not as its declared tone {tone} (COMPLIANCE-TONE, {severity}).'
)
STEP_FIRMNESS = msg(
    "The step has tone {declared} but sends template '{key}' ({channel}, {locale}, tone "
    "{tone}), which reads as tone {measured} (COMPLIANCE-TONE, {severity})."
)
LADDER = msg(
    "Tone {tone} rises more than one level above tone {level}, the highest a case may have "
    "reached before this step (COMPLIANCE-LADDER, HIGH)."
)
READABILITY = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) is hard to read: {measure} {score}, "
    "target {target} (COMPLIANCE-READABILITY, MED)."
)
NO_PACK = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}): no compliance rule pack for language "
    "'{language}'; its wording is not checked (COMPLIANCE-NO-PACK, MED)."
)
BROKEN_PACK = msg("The compliance rule packs cannot be read: {problem}")
SEVERITY = {"BLOCK": "error", "HIGH": "warning", "MED": "warning"}
MEASURES = {"de": "Wiener Sachtextformel", "en": "Flesch reading ease"}


def compliance_problems(journey: Journey) -> list[Problem]:
    """The linter's findings on a journey, each naming its template variant and rule."""
    try:
        findings = lint_journey(journey)
    except PackError as exc:
        return [Problem.of(BROKEN_PACK.with_params(problem=Verbatim(str(exc))))]
    return [_problem(f) for f in findings]


def _problem(f: JourneyFinding) -> Problem:
    params: dict[str, object] = {"severity": f.severity, **f.values}
    field = None
    if f.where is not None:
        w = f.where
        params |= {"key": w.template, "channel": w.channel, "locale": w.locale, "tone": w.tone}
        field = w.field
    words: Text
    if f.kind == "rule" and f.finding is not None:
        found = f.finding
        words = RULE.with_params(
            **params,
            part=f.where.part if f.where else "",
            rule=found.rule,
            reason=Verbatim(found.reason),
            excerpt=Verbatim(found.excerpt),
            suggestion=Verbatim(found.suggestion),
            source=Verbatim(found.source),
        )
    elif f.kind == "firmness":
        words = FIRMNESS.with_params(**params)
    elif f.kind == "step_firmness":
        words = STEP_FIRMNESS.with_params(**params)
    elif f.kind == "ladder":
        words = LADDER.with_params(**params)
    elif f.kind == "readability":
        language = f.where.locale.split("-")[0].lower() if f.where else ""
        words = READABILITY.with_params(**params, measure=MEASURES.get(language, language))
    else:
        words = NO_PACK.with_params(**params)
    return Problem.of(words, f.node, field, SEVERITY[f.severity])
