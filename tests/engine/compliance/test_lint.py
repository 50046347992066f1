"""Linting one text: rules with their `unless` context, firmness, readability, bounded time."""

from __future__ import annotations

import time

from engine.compliance.lint import firmness, lint_text, plain, readability
from engine.compliance.packs import packs_for

DE = packs_for("de", "DE")
EN = packs_for("en", "US")


def test_template_code_is_not_wording() -> None:
    text = plain("{% set haftbefehl = 1 %}Guten Tag {{ haftbefehl }}, bitte zahlen Sie.")
    assert lint_text(text, DE) == []


def test_a_schufa_notice_with_its_dispute_caveat_passes_and_without_is_blocked() -> None:
    bare = lint_text("Wir melden die offene Forderung an die SCHUFA.", DE)
    assert [(f.rule, f.severity, f.excerpt) for f in bare] == [
        ("DE-TONE-SCHUFA", "BLOCK", "schufa")
    ]
    caveat = "Wir melden sie an die SCHUFA. Bestreiten Sie die Forderung, melden wir nichts."
    assert lint_text(caveat, DE) == []


def test_a_finding_carries_reason_suggestion_and_source() -> None:
    (found,) = lint_text("We may GARNISH your wages.", EN)
    assert found.rule == "EN-TONE-SEIZURE" and found.excerpt == "garnish"
    assert "1692e" in found.source and found.suggestion and found.reason


def test_firmness_is_the_highest_marker_found() -> None:
    assert firmness("Vielen Dank für Ihren Einkauf.", DE) == (1, "")
    assert firmness("Dies ist unsere Mahnung.", DE)[0] == 2
    assert firmness("Dies ist unsere zweite Mahnung.", DE)[0] == 3
    assert firmness("Wir übergeben an ein Inkassounternehmen.", DE) == (3, "inkassounternehmen")
    assert firmness("Letzte Mahnung zur Rechnung 17", DE)[0] == 4
    assert firmness("Your balance is still open.", EN)[0] == 2
    assert firmness("We may start court proceedings.", EN)[0] == 4


def test_readability_scores_german_and_english() -> None:
    easy_de = "Bitte zahlen Sie bis Freitag. Danke für Ihre Hilfe."
    hard_de = (
        "Unter Berücksichtigung sämtlicher vertraglicher Vereinbarungen ergibt sich "
        "zwischenzeitlich eine außerordentlich unübersichtliche Forderungsaufstellung."
    )
    assert readability(easy_de, "de") < readability(hard_de, "de")
    easy_en = "Please pay by Friday. Thank you for your help."
    hard_en = (
        "Notwithstanding contractual considerations, the aforementioned indebtedness "
        "necessitates immediate organisational remediation."
    )
    assert readability(easy_en, "en") > readability(hard_en, "en")
    assert readability("Bonjour", "fr") is None


def test_a_ten_thousand_word_letter_is_linted_in_bounded_time() -> None:
    sentence = "Bitte zahlen Sie bis zum Freitag den offenen Betrag der Rechnung aus dieser Woche. "
    letter = sentence * 770 + "Sonst droht ein Haftbefehl."  # about 10,000 words
    assert len(letter.split()) >= 10_000
    started = time.perf_counter()
    found = lint_text(letter, DE)
    level, _ = firmness(letter, DE)
    readability(letter, "de")
    assert time.perf_counter() - started < 3.0
    assert "DE-TONE-ARREST" in [f.rule for f in found] and level == 2
