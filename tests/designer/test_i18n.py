"""German and English UI: every text passed to `_()` has a German translation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from designer.translations import DE

ROOT = Path(__file__).resolve().parents[2]
LITERAL = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def literals() -> set[str]:
    """Every string literal passed to `_()` in the templates and the designer's modules."""
    files = [*(ROOT / "templates").rglob("*.html"), *(ROOT / "designer").glob("*.py")]
    return {m[1] or m[2] for f in files for m in LITERAL.finditer(f.read_text("utf-8"))}


@pytest.mark.parametrize("text", sorted(literals()))
def test_has_german(text: str) -> None:
    assert text in DE


def test_placeholders_survive_translation() -> None:
    names = re.compile(r"\{(\w+)\}")
    assert [k for k, v in DE.items() if set(names.findall(k)) != set(names.findall(v))] == []


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

    assert DE[STALE_ERROR].startswith("Dieser Auftrag wurde ohne Ergebnis beendet")
