"""Language parity of the rule packs: every rule and legal check says its reason and suggestion,
and every required item its words, in English and German; a finding reads in the viewer's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from engine.authoring.compliance import compliance_problems, text_findings
from engine.compliance.packs import all_pack_files, load_pack
from engine.core.messages import LANGUAGES
from engine.journey.document import load_journey
from tests.factories import journey_doc

PACK_FILES = all_pack_files()
KINDS = ("rule", "required", "forbidden")


def _written(path: Path) -> list[tuple[str, str, Any]]:
    """(check id, field, value) of every field a finding shows, read from the TOML itself."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for kind in KINDS:
        for table in data.get(kind, []):
            for field in ("reason", "suggestion"):
                out.append((table["id"], field, table.get(field)))
            for i, item in enumerate(table.get("items", [])):
                out.append((table["id"], f"items[{i}].words", item.get("words")))
    return out


@pytest.mark.parametrize("path", PACK_FILES, ids=[p.name for p in PACK_FILES])
def test_every_rule_of_every_pack_is_written_in_english_and_german(path: Path) -> None:
    written = _written(path)
    assert written, path.name
    for check, field, value in written:
        where = f"{path.name} {check} {field}"
        assert isinstance(value, dict) and sorted(value) == sorted(LANGUAGES), where
        for lang in LANGUAGES:
            assert isinstance(value[lang], str) and value[lang].strip(), f"{where}.{lang}"
        assert value["de"] != value["en"], f"{where}: the German is the English"
        if field == "suggestion":  # a German suggestion addresses the reviewer: "Streichen Sie"
            assert re.search(r"\bSie\b", value["de"]), f"{where}.de"


@pytest.mark.parametrize("path", PACK_FILES, ids=[p.name for p in PACK_FILES])
def test_the_loaded_pack_says_each_language_as_written(path: Path) -> None:
    pack = load_pack(path)
    checks = {c.id: c for c in (*pack.rules, *pack.legal)}
    for check, field, value in _written(path):
        if field.startswith("items["):
            index = int(field[6 : field.index("]")])
            loaded = checks[check].items[index].words  # type: ignore[union-attr]
        else:
            loaded = getattr(checks[check], field)
        assert {lang: loaded.text(lang) for lang in LANGUAGES} == value


ARREST = "Sie können jederzeit zahlen, sonst droht ein HAFTBEFEHL."


def arrest_journey() -> Any:
    templates = {
        "reminder": {
            "channel": "email",
            "variants": [{"locale": "de-DE", "tone": 1, "subject": "Rechnung", "body": ARREST}],
        }
    }
    return load_journey(journey_doc(templates=templates))


def test_a_finding_reads_its_reason_and_suggestion_in_the_viewers_language() -> None:
    found = next(f for f in text_findings(arrest_journey(), "reminder", "de-DE", 1))
    assert found.code == "DE-TONE-ARREST" and found.reason and found.suggestion
    assert found.reason.text("de").startswith("Droht mit Verhaftung oder Gefängnis")
    assert found.reason.text("en").startswith("Threatens arrest or prison")
    assert found.suggestion.text("de").startswith("Nennen Sie nur den tatsächlich nächsten")
    german, english = found.words.text("de"), found.words.text("en")
    assert "Droht mit Verhaftung" in german and "Vorschlag: Nennen Sie" in german
    assert "Threatens arrest" in english and "Droht" not in english


def test_a_missing_legal_item_is_named_in_the_viewers_language() -> None:
    doc = journey_doc(
        templates={
            "reminder": {
                "channel": "email",
                "variants": [{"locale": "en-US", "tone": 1, "subject": "Bill", "body": "Pay."}],
            }
        }
    )
    doc["jurisdiction"] = "US"
    problem = next(p for p in compliance_problems(load_journey(doc)) if p.code == "US-06-OPT-OUT")
    assert "wie man sich abmeldet" in problem.text("de")
    assert "Ergänzen Sie in einer SMS" in problem.text("de")
    assert "how to opt out" in problem.text("en") and "Ergänzen" not in problem.text("en")
