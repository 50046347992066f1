"""A wording finding's reason and suggestion read in the UI language wherever the designer shows
them: the template editor's list, the canvas's Check (step badges and panels), the review
report (docs/compliance.md, "Rule packs")."""

from __future__ import annotations

import copy
import html
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import utcnow
from engine.authoring.versions import save_version
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import example_doc

URL = "/journeys/minimal/v1/templates"
VARIANT = {"template": "reminder", "channel": "email", "locale": "en-GB", "tone": "1"}
THREAT = "Dear {{ debtor_name }}, we will get an ARREST warrant. Please pay."
ARREST_EN = ("Threatens arrest or jail", "Name only the next real step and offer help.")
ARREST_DE = (
    "Droht mit Verhaftung oder Gefängnis, obwohl eine Verbraucherschuld nie dazu führt.",
    "Nennen Sie nur den tatsächlich nächsten Schritt und bieten Sie Hilfe an.",
)


def preview(client: FlaskClient) -> str:
    page = client.post(
        f"{URL}/preview", data=VARIANT | {"body": THREAT}, headers={"HX-Request": "true"}
    )
    return html.unescape(page.get_data(as_text=True))


def test_the_template_editor_lists_the_reason_and_suggestion_in_the_ui_language(
    manager: FlaskClient, journey: Any
) -> None:
    english = preview(manager)
    assert all(words in english for words in ARREST_EN)
    assert ARREST_DE[0] not in english
    manager.post("/lang/de")
    german = preview(manager)
    assert 'data-rule="EN-TONE-ARREST"' in german
    assert ARREST_DE[0] in german
    assert f"Vorschlag:</strong> {ARREST_DE[1]}" in german
    assert "Threatens arrest" not in german and "Name only the next" not in german


def test_the_canvas_check_says_the_reason_in_the_ui_language(manager: FlaskClient) -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["body"] += "\nPlease act now."
    manager.post("/lang/de")
    (found,) = manager.post("/journeys/check", json=doc).json["problems"]
    assert found["code"] == "EN-TONE-FINAL"
    assert "Druckformulierung: „act now“ oder eine Frist in Stunden." in found["message"]
    assert "Vorschlag: Setzen Sie eine Frist in Tagen" in found["message"]
    assert "Pressure wording" not in found["message"]


def test_the_review_report_says_the_reason_in_the_ui_language(app: Flask) -> None:
    doc = copy.deepcopy(example_doc("minimal"))
    doc["templates"]["reminder"]["variants"][0]["body"] += "\nPlease act now."
    with app.app_context(), get_db().transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org")
    manager = login(app.test_client(), "manager")
    assert manager.post("/journeys/minimal/v1/submit", data={"note": "ok"}).status_code == 302
    reviewer = login(app.test_client(), "reviewer")
    report = "/journeys/minimal/v1/report"
    english = html.unescape(reviewer.get(report).get_data(as_text=True))
    assert "Pressure wording: 'act now' or a deadline in hours." in english
    reviewer.post("/lang/de", data={"next": report})
    german = html.unescape(reviewer.get(report).get_data(as_text=True))
    assert "EN-TONE-FINAL" in german
    assert "Druckformulierung: „act now“ oder eine Frist in Stunden." in german
    assert "Pressure wording" not in german
