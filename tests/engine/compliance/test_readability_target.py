"""The journey's own readability target (settings.readability): stricter or laxer than the
pack's default, per language, and refused naming the field when it is not a sane number."""

from __future__ import annotations

import pytest

from engine.authoring.compliance import compliance_problems
from engine.authoring.validation import validate_document
from engine.compliance.journey import lint_journey
from engine.compliance.lint import plain, readability
from engine.journey.document import load_journey
from tests.factories import journey_doc, template

# English: plain words, Flesch about 84 (the pack asks at least 50).
EASY_EN = " ".join(
    ["Please pay the open invoice on our website within the next fourteen days, as agreed."] * 5
)
# English: long words, Flesch about 33.
HARD_EN = " ".join(
    ["Please transfer the outstanding amount, including the contractual interest, to our "
     "account."] * 4
)  # fmt: skip
# German: short sentences, a school grade about 7 (the pack allows at most 12).
EASY_DE = " ".join(
    ["Bitte zahlen Sie den offenen Betrag bis Freitag. Sie können auch eine Ratenzahlung "
     "vereinbaren."] * 4
)  # fmt: skip
# German: long compound words, a grade about 14.
HARD_DE = " ".join(
    ["Wir bitten Sie, den offenen Rechnungsbetrag einschließlich der vertraglich vereinbarten "
     "Zinsen unverzüglich auf unser Konto zu überweisen."] * 4
)  # fmt: skip


def doc(body: str, locale: str, target: dict | None = None) -> dict:
    settings = {"readability": target} if target is not None else None
    extra = {"settings": settings} if settings else {}
    return journey_doc(templates={"reminder": template(body=body, locale=locale)}, **extra)


def readability_findings(document: dict) -> list:
    return [f for f in lint_journey(load_journey(document)) if f.kind == "readability"]


def test_the_sample_texts_score_where_the_tests_need_them() -> None:
    assert 50 < readability(plain(EASY_EN), "en") < 95
    assert 0 < readability(plain(HARD_EN), "en") < 50
    assert 4 < readability(plain(EASY_DE), "de") < 12
    assert 12 < readability(plain(HARD_DE), "de") < 15


@pytest.mark.parametrize(
    ("body", "locale", "target"),
    [(EASY_EN, "en-GB", {"en": 95}), (EASY_DE, "de-DE", {"de": 4})],
    ids=["en", "de"],
)
def test_a_strict_journey_target_flags_a_text_the_default_passes(
    body: str, locale: str, target: dict
) -> None:
    assert readability_findings(doc(body, locale)) == []
    found = readability_findings(doc(body, locale, target))
    assert len(found) == 1
    language = locale[:2]
    assert found[0].values["target"] == target[language]
    assert found[0].values["set_by"] == "journey"


@pytest.mark.parametrize(
    ("body", "locale", "target"),
    [(HARD_EN, "en-GB", {"en": 0}), (HARD_DE, "de-DE", {"de": 15})],
    ids=["en", "de"],
)
def test_a_lax_journey_target_passes_a_text_the_default_flags(
    body: str, locale: str, target: dict
) -> None:
    assert len(readability_findings(doc(body, locale))) == 1
    assert readability_findings(doc(body, locale, target)) == []


def test_the_other_language_keeps_the_pack_default() -> None:
    """A German target says nothing of English texts."""
    assert len(readability_findings(doc(HARD_EN, "en-GB", {"de": 15}))) == 1


def test_the_finding_says_the_score_and_the_journeys_target_in_both_languages() -> None:
    journey = load_journey(doc(EASY_DE, "de-DE", {"de": 4}))
    (problem,) = [p for p in compliance_problems(journey) if p.code == "COMPLIANCE-READABILITY"]
    score = readability_findings(doc(EASY_DE, "de-DE", {"de": 4}))[0].values["score"]
    assert problem.field == "templates.reminder.de-DE.tone1.body"
    english = problem.text("en")
    assert f"Wiener Sachtextformel {score}" in english
    assert "the journey's target 4 (settings.readability.de)" in english
    german = problem.text("de")
    assert "Zielwert der Strecke 4 (settings.readability.de)" in german


def test_the_pack_default_finding_is_worded_as_before() -> None:
    journey = load_journey(doc(HARD_EN, "en-GB"))
    (problem,) = [p for p in compliance_problems(journey) if p.code == "COMPLIANCE-READABILITY"]
    assert "target 50 (COMPLIANCE-READABILITY, MED)" in problem.text("en")


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({"de": 3}, "de"),
        ({"de": 16}, "de"),
        ({"de": "10"}, "de"),
        ({"de": 10.5}, "de"),
        ({"en": -1}, "en"),
        ({"en": 101}, "en"),
        ({"en": None}, "en"),
        ({"fr": 50}, "fr"),
    ],
)
def test_bad_targets_are_refused_naming_the_field(target: dict, field: str) -> None:
    journey, problems = validate_document(doc(EASY_EN, "en-GB", target))
    assert journey is None
    fields = [p.field for p in problems]
    assert any(f and f.endswith(f"readability.{field}") for f in fields), fields


def test_a_target_that_is_not_a_table_is_refused_naming_the_field() -> None:
    journey, problems = validate_document(doc(EASY_EN, "en-GB", [50]))  # type: ignore[arg-type]
    assert journey is None
    assert any(p.field and p.field.startswith("settings.readability") for p in problems)
