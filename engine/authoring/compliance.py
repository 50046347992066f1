"""Compliance findings as validation problems: BLOCK is an error, HIGH and MED are warnings.

The linter itself is `engine.compliance` (pure); this module only words its findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from engine.compliance.journey import JourneyFinding, lint_journey, variant_findings
from engine.compliance.legal import (
    InterestFinding,
    LegalFinding,
    interest_findings,
    legal_findings,
    validation_timing,
)
from engine.compliance.packs import PackError
from engine.compliance.proofs import Counterexample, Proof, prove_journey
from engine.core.messages import Joined, Text, Verbatim, msg
from engine.journey.document import Journey
from engine.nodes import NODE_TYPES
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
READABILITY_JOURNEY = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) is hard to read: {measure} {score}, "
    "the journey's target {target} (settings.readability.{language}) "
    "(COMPLIANCE-READABILITY, MED)."
)
NO_PACK = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}): no compliance rule pack for language "
    "'{language}'; its wording is not checked (COMPLIANCE-NO-PACK, MED)."
)
BROKEN_PACK = msg("The compliance rule packs cannot be read: {problem}")
SEVERITY = {"BLOCK": "error", "HIGH": "warning", "MED": "warning"}
MEASURES = {"de": "Wiener Sachtextformel", "en": "Flesch reading ease"}


# Static proofs (engine.compliance.proofs): what fails on some path, and the path itself.
PROOF_WORDS: dict[str, Text] = {
    "caps": msg(
        "{count} messages ({channel}) can reach the debtor within {days} days on this path, "
        "but {profile} allows {max_count}: {path} (COMPLIANCE-PROOF-CAPS, HIGH)."
    ),
    "gaps": msg(
        "Two messages can reach the debtor {hours} hours apart on this path; {profile} asks for "
        "at least {gap_hours} hours, so the second is deferred: {path} "
        "(COMPLIANCE-PROOF-GAPS, MED)."
    ),
    "hours": msg(
        "This message is sent at {time}, outside {profile}'s contact hours ({hours}), so it "
        "waits for the next morning: {path} (COMPLIANCE-PROOF-HOURS, MED)."
    ),
    "consequences": msg(
        "Template '{template}' announces a consequence ({consequence}: \"{excerpt}\"), but no "
        "later step does it (an end with that outcome or a webhook asking the host for it): "
        "{path} (COMPLIANCE-PROOF-CONSEQUENCE, HIGH)."
    ),
    "holds": msg(
        "This message (purpose '{purpose}') can be sent after the debtor opted out ({event}), "
        "with no change of consent or contact in between: {path} "
        "(COMPLIANCE-PROOF-HOLDS, HIGH)."
    ),
    "promises": msg(
        "A broken promise must lead to a step of its own, not to 'paid' or nowhere: {path} "
        "(COMPLIANCE-PROOF-PROMISE, HIGH)."
    ),
    "time": msg(
        "These steps can loop without time passing or the debtor doing anything "
        "({sends} messages on the way): {path} (COMPLIANCE-PROOF-TIME, HIGH)."
    ),
}
PROOF_SEVERITY = {
    "caps": "HIGH",
    "gaps": "MED",
    "hours": "MED",
    "consequences": "HIGH",
    "holds": "HIGH",
    "promises": "HIGH",
    "time": "HIGH",
}
PROOF_CODES = {
    "caps": "COMPLIANCE-PROOF-CAPS",
    "gaps": "COMPLIANCE-PROOF-GAPS",
    "hours": "COMPLIANCE-PROOF-HOURS",
    "consequences": "COMPLIANCE-PROOF-CONSEQUENCE",
    "holds": "COMPLIANCE-PROOF-HOLDS",
    "promises": "COMPLIANCE-PROOF-PROMISE",
    "time": "COMPLIANCE-PROOF-TIME",
}
PATH_STEP = msg("{label} ({port})")
LEGAL_MISSING = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) lacks what {rule} requires: {missing}. "
    "{reason} Suggestion: {suggestion} Source: {source} ({severity})"
)
LEGAL_FORBIDDEN = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}): {rule} ({severity}): {reason} "
    'Found: "{excerpt}". Suggestion: {suggestion} Source: {source}'
)
VALIDATION_LATE = msg(
    "This can be the first message of a US collection agency's journey, but a validation "
    "notice does not follow within five days on every path (at the latest after {days} days) "
    "(US-07-VALIDATION-TIMING, BLOCK)."
)
VALIDATION_NEVER = msg(
    "This can be the first message of a US collection agency's journey, but some path from it "
    "never reaches a validation notice (US-07-VALIDATION-TIMING, BLOCK)."
)


def compliance_problems(journey: Journey) -> list[Problem]:
    """The linter's findings and the failed proofs of a journey, each naming where."""
    try:
        findings = lint_journey(journey)
    except PackError as exc:
        return [Problem.of(BROKEN_PACK.with_params(problem=Verbatim(str(exc))))]
    problems = [_problem(f) for f in findings]
    problems += legal_problems(journey, legal_findings(journey))
    problems += interest_problems(journey, interest_findings(journey))
    return problems + proof_problems(journey, prove_journey(journey))


@dataclass(frozen=True)
class TextFinding:
    """A finding of the variant in the editor: a wording rule marks characters [start, end) of
    its part (subject or body); other findings (firmness, readability) have no part."""

    code: str
    grade: str  # BLOCK, HIGH or MED
    words: Text  # the whole finding in words, as Check says it
    part: str | None = None
    start: int = 0
    end: int = 0
    excerpt: str = ""
    reason: Text | None = None  # a wording finding's, in English and German
    suggestion: Text | None = None
    source: str = ""
    text: str = ""  # the template's own characters [start, end) of its part


@dataclass(frozen=True)
class VariantFindings:
    """One template variant of a journey and its findings (the API's findings of a version)."""

    template: str
    channel: str
    locale: str
    tone: int
    findings: tuple[TextFinding, ...]

    @property
    def field(self) -> str:
        return f"templates.{self.template}.{self.locale}.tone{self.tone}"


def text_findings(journey: Journey, key: str, locale: str, tone: int) -> list[TextFinding]:
    """What the template editor highlights: the variant's findings, in text order."""
    try:
        found = variant_findings(journey, key, locale, tone)
    except PackError as exc:
        return [_broken_pack(exc)]
    return _in_text_order([_text_finding(journey, f) for f in found])


def journey_text_findings(journey: Journey) -> list[VariantFindings]:
    """Every template variant of a journey with its own findings in text order (none when it is
    clean), in document order; findings about steps (the ladder, a step's tone) are Check's."""
    try:
        found = lint_journey(journey)
        broken: tuple[TextFinding, ...] = ()
    except PackError as exc:
        found, broken = [], (_broken_pack(exc),)
    per_variant: dict[tuple[str, str, int], list[TextFinding]] = {}
    for f in found:
        if f.where is not None and f.node is None:
            where = (f.where.template, f.where.locale, f.where.tone)
            per_variant.setdefault(where, []).append(_text_finding(journey, f))
    return [
        VariantFindings(
            t.key,
            t.channel,
            v.locale,
            v.tone,
            broken or tuple(_in_text_order(per_variant.get((t.key, v.locale, v.tone), []))),
        )
        for t in journey.templates.values()
        for v in t.variants
    ]


def _broken_pack(exc: PackError) -> TextFinding:
    return TextFinding(
        "COMPLIANCE-PACK", "MED", BROKEN_PACK.with_params(problem=Verbatim(str(exc)))
    )


def _text_finding(journey: Journey, f: JourneyFinding) -> TextFinding:
    problem = _problem(f)
    code, grade = problem.code or "", problem.grade or f.severity
    words = problem.words or Verbatim(problem.message)
    if f.kind != "rule" or f.finding is None or f.where is None:
        return TextFinding(code, grade, words)
    hit, where = f.finding, f.where
    variant = next(
        v for v in journey.templates[where.template].variants
        if (v.locale, v.tone) == (where.locale, where.tone)
    )  # fmt: skip
    own = (getattr(variant, where.part) or "")[hit.start : hit.end]
    return TextFinding(
        code, grade, words, where.part, hit.start, hit.end, hit.excerpt,
        hit.reason, hit.suggestion, hit.source, own,
    )  # fmt: skip


def _in_text_order(found: list[TextFinding]) -> list[TextFinding]:
    order = {"subject": 0, "body": 1}
    return sorted(found, key=lambda t: (t.part is None, order.get(t.part or "", 2), t.start))


def legal_problems(journey: Journey, findings: list[LegalFinding]) -> list[Problem]:
    """Legal content findings on their steps, and Reg F's validation notice timing."""
    out = []
    for f in findings:
        template = journey.templates[f.template]
        check = f.check
        params: dict[str, object] = {
            "key": f.template,
            "channel": template.channel,
            "locale": f.locale,
            "tone": f.tone,
            "rule": check.id,
            "severity": check.severity,
            "reason": check.reason,
            "suggestion": check.suggestion,
            "source": Verbatim(check.source),
        }
        if check.kind == "required":
            words = LEGAL_MISSING.with_params(**params, missing=Joined(f.missing))
        else:
            words = LEGAL_FORBIDDEN.with_params(**params, excerpt=Verbatim(f.excerpt))
        field = f"templates.{f.template}.{f.locale}.tone{f.tone}"
        problem = Problem.of(words, f.node, field, SEVERITY[check.severity])
        out.append(problem.graded(check.id, check.severity))
    for node, longest in validation_timing(journey):
        late = (
            VALIDATION_NEVER
            if longest is None
            else VALIDATION_LATE.with_params(days=_days(longest))
        )
        out.append(Problem.of(late, node, None, "error").graded("US-07-VALIDATION-TIMING", "BLOCK"))
    return out


INTEREST_WORDS = {
    "no_rate": msg(
        "Template '{key}' ({locale}, tone {tone}) claims interest without its rate: state the "
        "statutory rate ({points} percentage points above the base rate, § 288 BGB) or print "
        "{{{{ interest_rate_words }}}} (DE-02)."
    ),
    "wrong_points": msg(
        "Template '{key}' ({locale}, tone {tone}) states interest at {stated} percentage points "
        "above the base rate, but the law gives {points} for the debtors this journey lets in: "
        "print {{{{ interest_rate_words }}}}, or filter the start step on debtor_type (DE-02)."
    ),
    "wrong_rate": msg(
        "Template '{key}' ({locale}, tone {tone}) states interest at {stated} %, but the "
        "journey charges the contract rate of {rate} % (DE-02)."
    ),
    "not_stated": msg(
        "The journey charges interest, but no German demand says so: name the interest and "
        "its rate in a demand, e.g. with {{{{ interest }}}} and {{{{ interest_rate_words }}}} "
        "(DE-02)."
    ),
}


def interest_problems(journey: Journey, findings: list[InterestFinding]) -> list[Problem]:
    """DE-02 findings: interest claimed at a rate the data does not give, or never stated."""
    out = []
    for f in findings:
        values = {k: _listed(v) for k, v in f.values.items()}
        values.setdefault("points", "")
        values.setdefault("stated", "")
        words = INTEREST_WORDS[f.kind].with_params(
            key=f.template, locale=f.locale, tone=f.tone, **values
        )
        field = "settings.interest"
        if f.template:
            field = f"templates.{f.template}.{f.locale}.tone{f.tone}"
        problem = Problem.of(words, f.node, field, SEVERITY[f.severity])
        out.append(problem.graded("DE-02", f.severity))
    return out


def _listed(value: object) -> object:
    return " / ".join(map(str, value)) if isinstance(value, list) else value


def proof_problems(journey: Journey, proofs: list[Proof]) -> list[Problem]:
    """Each counterexample of the proofs as a warning on the step it is about."""
    out = []
    for proof in proofs:
        for failure in proof.failures:
            words = PROOF_WORDS[proof.name].with_params(
                **_proof_values(failure), path=path_words(journey, failure)
            )
            grade = PROOF_SEVERITY[proof.name]
            code = PROOF_CODES[proof.name]
            out.append(Problem.of(words, failure.node, None, "warning").graded(code, grade))
    return out


def path_words(journey: Journey, failure: Counterexample) -> Text:
    """The counterexample's path as the manager labelled the steps: 'Start → Wait (next) → …'."""
    nodes = journey.nodes_by_id()
    steps: list[Text] = []
    for node_id, port in failure.path:
        node = nodes.get(node_id)
        label = Verbatim(node.label or node_id) if node is not None else Verbatim(node_id)
        ports = NODE_TYPES[node.type].ports(node.params) if node is not None else []
        # The only way out says nothing; a branch says which one ('Payment received').
        if port is None or len(ports) < 2:
            steps.append(label)
            continue
        named = next((p for p in ports if p.name == port), None)
        words: Text = named.words or Verbatim(named.label) if named else Verbatim(port)
        steps.append(PATH_STEP.with_params(label=label, port=words))
    return Joined(tuple(steps), " → ")


def _proof_values(failure: Counterexample) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, value in failure.values.items():
        if isinstance(value, float):
            value = int(value) if value == int(value) else round(value, 1)
        values[key] = Verbatim(value) if isinstance(value, str) else value
    return values


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
            reason=found.reason,
            excerpt=Verbatim(found.excerpt),
            suggestion=found.suggestion,
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
        measure = MEASURES.get(language, language)
        if params.pop("set_by", None) == "journey":
            words = READABILITY_JOURNEY.with_params(**params, measure=measure, language=language)
        else:
            words = READABILITY.with_params(**params, measure=measure)
    else:
        words = NO_PACK.with_params(**params)
    code = {
        "rule": f.finding.rule if f.finding is not None else "COMPLIANCE-RULE",
        "firmness": "COMPLIANCE-TONE",
        "step_firmness": "COMPLIANCE-TONE",
        "ladder": "COMPLIANCE-LADDER",
        "readability": "COMPLIANCE-READABILITY",
    }.get(f.kind, "COMPLIANCE-NO-PACK")
    return Problem.of(words, f.node, field, SEVERITY[f.severity]).graded(code, f.severity)


def _days(span: timedelta) -> int | float:
    """Days as a reader writes them: 7, or 7.5."""
    days = round(span.total_seconds() / 86400, 1)
    return int(days) if days == int(days) else days
