"""The shipped rule packs: each rule's own examples, the coverage of compliance.md, broken packs."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.compliance.lint import UNSENT, lint_text
from engine.compliance.packs import PackError, all_pack_files, load_pack, packs_for
from engine.compliance.patterns import Words, search

PACKS = [load_pack(path) for path in all_pack_files()]
RULES = [(pack, rule) for pack in PACKS for rule in pack.rules]


def rule_id(case: object) -> str:
    return getattr(case, "id", "")


@pytest.mark.parametrize(("pack", "rule"), RULES, ids=[r.id for _, r in RULES])
def test_every_rule_matches_its_match_examples_and_not_its_no_match_examples(pack, rule) -> None:
    assert len(rule.examples_match) >= 2 and len(rule.examples_no_match) >= 2, rule.id
    # UNSENT: a context rule judges its examples as sent where the journey does nothing more
    for sentence in rule.examples_match:
        assert rule.id in [f.rule for f in lint_text(sentence, (pack,), None, UNSENT)], sentence
    for sentence in rule.examples_no_match:
        assert rule.id not in [f.rule for f in lint_text(sentence, (pack,), None, UNSENT)], sentence


CONSEQUENCES = [(pack, c) for pack in PACKS for c in pack.consequences]


@pytest.mark.parametrize(
    ("pack", "consequence"), CONSEQUENCES, ids=[f"{p.path.stem}-{c.id}" for p, c in CONSEQUENCES]
)
def test_every_consequence_finds_its_announcements_and_nothing_else(pack, consequence) -> None:
    assert len(consequence.examples_match) >= 2 and len(consequence.examples_no_match) >= 2
    for sentence in consequence.examples_match:
        assert any(search(p, Words(sentence)) for p in consequence.patterns), sentence
    for sentence in consequence.examples_no_match:
        assert not any(search(p, Words(sentence)) for p in consequence.patterns), sentence


def test_german_and_english_packs_know_the_same_consequences() -> None:
    ids = {p.language: {c.id for c in p.consequences} for p in PACKS if p.jurisdiction is None}
    assert ids["de"] == ids["en"] == {"agency", "court", "credit_report"}


# Every tone-audit row and every T-rule of shared/domain/compliance.md, per language, and the
# rule or legal check that covers it. DE-07 (the §13a RDG items), US-06 (opt-out), US-07 (the
# validation notice) and US-08 (collector disclosure) are content that must be present: legal
# content checks (`[[required]]`), like UK-01's offer of help.
COVERAGE = {
    "de": {
        "arrest/jail": "DE-TONE-ARREST",
        "criminal complaint/fraud": "DE-TONE-CRIMINAL",
        "Schufa without dispute caveat (DE-09)": "DE-TONE-SCHUFA",
        "seizure/bailiff pre-title": "DE-TONE-SEIZURE",
        "court/official look (DE-17)": "DE-TONE-OFFICIAL",
        "lawyer/legal department": "DE-TONE-LAWYER",
        "Mahnbescheid beantragt": "DE-TONE-COURT-FILED",
        "insults/debtor list/employer": "DE-TONE-INSULT",
        "letztmalig/24 Std.": "DE-TONE-FINAL",
        "borrow to pay": "DE-TONE-BORROW",
        "lump Mahnauslagen": "DE-TONE-LUMP-FEE",
        "missed parcel pretext": "DE-TONE-PRETEXT",
        "paying fixes your score": "DE-TONE-SCORE",
        "promotion in a reminder (DE-13)": "DE-TONE-ADVERT",
    },
    "en": {
        "arrest/jail": "EN-TONE-ARREST",
        "fraud/criminal": "EN-TONE-CRIMINAL",
        "we will report you": "EN-TONE-REPORT",
        "garnish/seize": "EN-TONE-SEIZURE",
        "court/official/government look (UK-05)": "EN-TONE-OFFICIAL",
        "attorney/solicitor/bailiff (UK-05)": "EN-TONE-LAWYER",
        "lawsuit filed / suit threat": "EN-TONE-SUIT-FILED",
        "deadbeat/list/employer (UK-04)": "EN-TONE-INSULT",
        "final notice/act now": "EN-TONE-FINAL",
        "borrow to pay (UK-02)": "EN-TONE-BORROW",
        "processing/convenience fee": "EN-TONE-FEE",
        "missed delivery pretext": "EN-TONE-PRETEXT",
        "paying fixes your credit": "EN-TONE-SCORE",
        "promotion in a reminder": "EN-TONE-ADVERT",
    },
    "en.UK": {
        "short deadlines/lump sums (UK-02)": "UK-02-SHORT-DEADLINE",
        "third parties (UK-04)": "UK-04-THIRD-PARTY",
        "forbearance offered (UK-01)": "UK-01-FORBEARANCE",
    },
    "en.US": {
        "suit threat on a time-barred debt (US-09)": "US-09-TIME-BARRED",
        "opt-out in every email and SMS (US-06)": "US-06-OPT-OUT",
        "validation notice items (US-07)": "US-07-VALIDATION-NOTICE",
        "from a debt collector (US-08)": "US-08-DEBT-COLLECTOR",
    },
    "de.DE": {
        "first Inkasso demand items (DE-07)": "DE-07-RDG-13A",
        "EUR 40 flat fee only B2B (DE-03)": "DE-03-FLAT-FEE",
        "no fee on the Verzug-creating Mahnung (DE-04)": "DE-04-FIRST-FEE",
    },
}


@pytest.mark.parametrize("name", sorted(COVERAGE))
def test_every_tone_pattern_and_t_rule_has_a_rule(name: str) -> None:
    pack = load_pack(Path(all_pack_files()[0]).parent / f"{name}.toml")
    ids = {r.id for r in pack.rules} | {c.id for c in pack.legal}
    assert set(COVERAGE[name].values()) <= ids


def test_an_overlay_adds_to_its_language_pack() -> None:
    assert [p.path.name for p in packs_for("en", "US")] == ["en.toml", "en.US.toml"]
    assert [p.path.name for p in packs_for("en", "NONE")] == ["en.toml"]
    assert packs_for("fr", "DE") == ()


GOOD_RULE = """
[[rule]]
id = "X-1"
severity = "BLOCK"
source = "s"
reason.en = "r"
reason.de = "Grund"
suggestion.en = "s"
suggestion.de = "Vorschlag"
patterns = ["mahn*"]
"""
GOOD_REQUIRED = """
[[required]]
id = "R-1"
severity = "HIGH"
source = "s"
reason = { en = "r", de = "Grund" }
suggestion = { en = "s", de = "Vorschlag" }
items = [{ id = "a", words.en = "w", words.de = "Wort", patterns = ["x"] }]
"""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[pack]\nlanguage = "de"\n[[rule]\nid = "x"', "broken.toml: not valid TOML"),
        ('language = "de"', "broken.toml, field 'pack.language'"),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE.replace('"BLOCK"', '"LOW"'),
            "rule 'X-1', field 'severity'",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE.replace('"mahn*"', '"(a+)+$"'),
            "rule 'X-1', field 'patterns[0]': '(a+)+$'",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE.replace('["mahn*"]', '"mahn*"'),
            "rule 'X-1', field 'patterns'",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE.replace('reason.de = "Grund"', 'reason.de = " "'),
            "rule 'X-1', field 'reason.de': a non-empty string is required",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE + "colour = 1\n",
            "rule 'X-1', field 'colour': unknown field",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE + GOOD_RULE,
            "rule 'X-1', field 'id': the id is used twice",
        ),
        ('[pack]\nlanguage = "de"' + GOOD_RULE.replace('id = "X-1"', ""), "rule '#1', field 'id'"),
        (
            '[pack]\nlanguage = "de"\n[[firmness]]\nlevel = 7\npatterns = ["a"]',
            "firmness #1', field 'level'",
        ),
        (
            '[pack]\nlanguage = "de"\n[[consequence]]\nid = "agency"\npatterns = ["inkasso*"]',
            "rule 'agency', field 'outcomes': name the outcomes or webhook events",
        ),
        (
            '[pack]\nlanguage = "de"\n[[consequence]]\nid = "a"\npatterns = ["x"]\n'
            'outcomes = ["handed_over"]\nwhen = 1',
            "rule 'a', field 'when': unknown field",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE + 'consequence = "moon"\n',
            "rule 'X-1', field 'consequence': no [[consequence]] 'moon'",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE + "min_days = 0\n",
            "rule 'X-1', field 'min_days': must be a whole number of days",
        ),
        (
            '[pack]\nlanguage = "de"' + GOOD_RULE + 'unless_final = "yes"\n',
            "rule 'X-1', field 'unless_final': must be true or false",
        ),
    ],
)
def test_a_broken_pack_names_file_rule_and_field(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            GOOD_RULE.replace('reason.de = "Grund"\n', ""),
            "rule 'X-1', field 'reason.de': the German",
        ),
        (GOOD_RULE.replace('reason.en = "r"\n', ""), "rule 'X-1', field 'reason.en': the English"),
        (GOOD_RULE.replace('suggestion.de = "Vorschlag"\n', ""), "field 'suggestion.de'"),
        (
            GOOD_RULE.replace('reason.en = "r"\nreason.de = "Grund"', 'reason = "r"'),
            "rule 'X-1', field 'reason': write it in every language: reason.en",
        ),
        (GOOD_RULE + 'reason.fr = "raison"\n', "field 'reason.fr': unknown language"),
        (
            GOOD_REQUIRED.replace('de = "Vorschlag"', 'fr = "p"'),
            "rule 'R-1', field 'suggestion.de': the German is missing",
        ),
        (
            GOOD_REQUIRED.replace('words.en = "w", ', ""),
            "rule 'R-1', field 'items[0].words.en': the English is missing",
        ),
        (
            GOOD_REQUIRED.replace('words.en = "w", words.de = "Wort"', 'words = "w"'),
            "items[0].words'",
        ),
    ],
)
def test_a_pack_missing_a_language_names_file_rule_and_field(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "de.DE.toml"
    path.write_text('[pack]\nlanguage = "de"\njurisdiction = "DE"\n' + text, encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_pack(path)
    assert str(caught.value).startswith("rule pack de.DE.toml, ") and says in str(caught.value)


def test_the_good_rule_and_check_load_in_both_languages(tmp_path: Path) -> None:
    path = tmp_path / "de.toml"
    path.write_text('[pack]\nlanguage = "de"\n' + GOOD_RULE + GOOD_REQUIRED, encoding="utf-8")
    pack = load_pack(path)
    assert (pack.rules[0].reason.text("en"), pack.rules[0].reason.text("de")) == ("r", "Grund")
    assert pack.legal[0].items[0].words.text("de-DE") == "Wort"
