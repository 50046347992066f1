"""German and English UI: every text passed to `_()` has German in the gettext catalog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from designer.i18n import DATA_WORDS, _, word
from tests.catalog import german

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
# Placeholders: '%(n)s' where Flask-Babel fills them, '{n}' where the canvas script does.
NAMES = re.compile(r"%\((\w+)\)|\{(\w+)\}")


def literals() -> set[str]:
    """Every string literal passed to `_()` in the templates and the designer's modules."""
    files = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "designer").glob("*.py")]
    return {m[1] or m[2] for f in files for m in LITERAL.finditer(f.read_text("utf-8"))}


def names(text: str) -> set[str]:
    return {a or b for a, b in NAMES.findall(text)}


@pytest.mark.parametrize("text", sorted(literals()))
def test_has_german(text: str) -> None:
    assert german(text)


@pytest.mark.parametrize("text", sorted(literals()))
def test_placeholders_survive_translation(text: str) -> None:
    assert names(german(text)) == names(text)


@pytest.mark.parametrize("text", DATA_WORDS)
def test_every_word_shown_from_data_has_german(text: str) -> None:
    assert german(text)


def test_a_placeholder_is_filled_in_german(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "de-DE,de;q=0.9"}):
        assert _("Saved as draft version %(n)s.", n=3) == "Als Entwurf Version 3 gespeichert."


def test_a_word_from_data_is_translated_and_an_unknown_one_kept(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "de"}):
        assert (word("held"), word("no_such_status"), word(""), word(None)) == (
            "angehalten",
            "no_such_status",
            "",
            "",
        )
        assert word("100% sure") == "100% sure"  # a value is never %-formatted


def test_the_browser_language_counts_until_the_user_chooses(manager: FlaskClient) -> None:
    german_browser = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
    assert "Strecken" in manager.get("/journeys", headers=german_browser).get_data(as_text=True)

    manager.post("/lang/en")

    assert "Journeys" in manager.get("/journeys", headers=german_browser).get_data(as_text=True)


def test_language_switch_is_kept_in_the_session(manager: FlaskClient) -> None:
    manager.post("/lang/de", data={"next": "/journeys"})
    assert "Strecken" in manager.get("/journeys").get_data(as_text=True)


def test_switch_back_to_english(manager: FlaskClient) -> None:
    manager.post("/lang/de")
    manager.post("/lang/en")
    assert "Journeys" in manager.get("/journeys").get_data(as_text=True)


def test_switch_does_not_redirect_off_site(manager: FlaskClient) -> None:
    response = manager.post("/lang/de", data={"next": "https://evil.example/"})
    assert response.headers["Location"] == "/journeys"


def test_node_type_labels_follow_the_language(manager: FlaskClient, journey: object) -> None:
    manager.post("/lang/de")
    assert "Auf Ereignis warten" in manager.get("/journeys/minimal/v1").get_data(as_text=True)


def test_the_message_of_a_job_whose_process_ended_has_german() -> None:
    from engine.ops.jobs import STALE_ERROR

    assert german(STALE_ERROR).startswith("Dieser Auftrag wurde ohne Ergebnis beendet")
