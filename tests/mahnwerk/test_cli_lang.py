"""`mahnwerk validate` and `mahnwerk compile` with --lang: problems and rules in German."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mahnwerk.cli import main

MINIMAL = Path(__file__).resolve().parents[2] / "journeys_examples" / "minimal.json"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    return CliRunner()


def unwired(tmp_path: Path) -> Path:
    """minimal.json with the last wait's way out removed."""
    doc = json.loads(MINIMAL.read_text(encoding="utf-8"))
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    path = tmp_path / "unwired.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_validate_in_german_names_step_and_field(runner: CliRunner, tmp_path: Path) -> None:
    path = unwired(tmp_path)

    result = runner.invoke(main, ["validate", "--lang", "de", str(path)])

    assert result.exit_code == 2
    assert (
        f"{path}: Schritt 'wait_14', Feld 'port.next': "
        "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden."
    ) in result.output


def test_validate_in_german_says_valid(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--lang", "de", str(MINIMAL)])

    assert result.exit_code == 0
    assert result.output.strip() == f"{MINIMAL}: gültig"


def test_validate_speaks_english_by_default(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(unwired(tmp_path))])

    assert "node 'wait_14', field 'port.next': The 'Next' way is not connected" in result.output


def test_compile_in_german_prints_german_rules_and_policy(runner: CliRunner) -> None:
    result = runner.invoke(main, ["compile", "--lang", "de", str(MINIMAL)])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Strecke 'Minimal reminder' (Regelwerk minimal.vdraft.")
    assert (
        "- Wenn ein Fall bei 'Large amount?' ankommt und der offene Betrag über 100,00\xa0€ "
        "liegt, geht er weiter zu 'Second reminder'." in result.output
    )
    assert "Grundsatzregeln, für jede Strecke zuerst geprüft:" in result.output
    assert "- In jedem Schritt: Wenn eine Zahlung nichts mehr offen lässt" in result.output


def test_compile_of_an_invalid_journey_reports_in_german(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["compile", "--lang", "de", str(unwired(tmp_path))])

    assert result.exit_code == 2
    assert "Der Ausgang 'Weiter' ist mit keinem nächsten Schritt verbunden." in result.output


def test_an_unknown_language_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", "--lang", "fr", str(MINIMAL)])

    assert result.exit_code == 2
    assert "'fr' is not one of 'en', 'de'" in result.output


def test_validate_in_german_says_a_findings_reason_and_suggestion_in_german(
    runner: CliRunner, tmp_path: Path
) -> None:
    doc = json.loads(MINIMAL.read_text(encoding="utf-8"))
    doc["templates"]["reminder"]["variants"][0]["body"] += "\nPlease act now."
    path = tmp_path / "pressure.json"
    path.write_text(json.dumps(doc), encoding="utf-8")

    german = runner.invoke(main, ["validate", "--lang", "de", str(path)]).output
    english = runner.invoke(main, ["validate", str(path)]).output

    said = "EN-TONE-FINAL (HIGH): Druckformulierung: „act now“ oder eine Frist in Stunden."
    assert said in german
    assert "Vorschlag: Setzen Sie eine Frist in Tagen" in german and "Pressure" not in german
    assert "EN-TONE-FINAL (HIGH): Pressure wording: 'act now' or a deadline in hours." in english
