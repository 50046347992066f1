"""The Review tab and the steps that take a journey live, from the designer: each action, and
each refusal shown in the page (never a 500), in the user's language."""

from __future__ import annotations

import copy
import html
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.designer.conftest import login

REVIEW = "/journeys/minimal/v1/review"


def page_of(response: Any) -> str:
    """The response's HTML with entities resolved."""
    return html.unescape(response.get_data(as_text=True))


def as_role(app: Flask, role: str) -> FlaskClient:
    """Another browser, signed in with this role."""
    return login(app.test_client(), role)


def digest(client: FlaskClient, url: str = REVIEW) -> str:
    """The content hash the Review tab shows (and its forms carry)."""
    page = client.get(url).get_data(as_text=True)
    marker = 'name="content_hash" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def unwired(journey: dict) -> dict:
    """The journey with the last wait's way out removed (a problem)."""
    doc = copy.deepcopy(journey)
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    return doc


# -- drafts and submit --------------------------------------------------------------------------


def test_review_tab_of_a_draft_offers_submit_with_a_note(
    manager: FlaskClient, journey: Any
) -> None:
    page = page_of(manager.get(REVIEW))
    assert "Submit for review" in page and 'name="note"' in page
    assert "Version 1: draft" in page


def test_submit_sends_the_draft_to_review(manager: FlaskClient, journey: Any) -> None:
    response = manager.post(
        "/journeys/minimal/v1/submit", data={"note": "ready", "content_hash": digest(manager)}
    )
    assert response.status_code == 302
    page = page_of(manager.get(REVIEW))
    assert "is submitted for review" in page and "Version 1: in review" in page


def test_a_draft_with_problems_can_be_saved_but_not_submitted(
    manager: FlaskClient, journey: dict
) -> None:
    manager.post("/journeys/minimal/save?version=1", json=unwired(journey))
    page = page_of(manager.get(REVIEW))
    assert "A version with problems cannot be submitted" in page
    assert "wait_14" in page
    response = manager.post("/journeys/minimal/v1/submit", data={"note": "try"})
    assert response.status_code == 422
    assert "has 3 problems; fix them before submitting" in page_of(response)


def test_submit_of_a_draft_changed_since_the_page_was_loaded_says_so(
    manager: FlaskClient, journey: dict
) -> None:
    seen = digest(manager)
    manager.post("/journeys/minimal/save?version=1", json=copy.deepcopy(journey) | {"name": "X"})
    response = manager.post("/journeys/minimal/v1/submit", data={"content_hash": seen})
    assert response.status_code == 409
    assert "Version 1 changed since you opened this page: check it" in page_of(response)
    assert "Version 1: draft" in page_of(manager.get(REVIEW))


def test_submit_twice_is_refused_with_the_state(manager: FlaskClient, journey: Any) -> None:
    manager.post("/journeys/minimal/v1/submit")
    response = manager.post("/journeys/minimal/v1/submit")
    assert response.status_code == 409
    assert "is 'in review', not 'draft': it cannot be submitted" in page_of(response)


def test_a_viewer_cannot_submit(app: Flask, journey: Any) -> None:
    response = as_role(app, "viewer").post("/journeys/minimal/v1/submit")
    assert response.status_code == 403
    assert "may not submit a version" in page_of(response)


def test_a_submitted_version_is_read_only_on_the_canvas(manager: FlaskClient, journey: Any) -> None:
    manager.post("/journeys/minimal/v1/submit")
    page = page_of(manager.get("/journeys/minimal/v1"))
    assert 'id="btn-save"' not in page and 'class="palette-item' not in page
    assert '"canEdit": false' in page and "Edit in a new draft" in page


def test_canvas_save_of_a_version_submitted_meanwhile_makes_a_new_draft(
    manager: FlaskClient, journey: dict
) -> None:
    manager.post("/journeys/minimal/v1/submit")
    response = manager.post("/journeys/minimal/save?version=1", json=journey)
    data = response.get_json()
    assert (response.status_code, data["version"], data["created"]) == (201, 2, True)
    assert "Version 1 was submitted meanwhile" in data["message"]


def test_new_draft_from_a_submitted_version(manager: FlaskClient, journey: Any) -> None:
    manager.post("/journeys/minimal/v1/submit")
    response = manager.post("/journeys/minimal/v1/new-draft")
    assert response.headers["Location"] == "/journeys/minimal/v2"
    assert "Version 2: draft" in page_of(manager.get("/journeys/minimal/v2/review"))


def test_a_reviewer_cannot_make_a_draft(app: Flask, journey: Any) -> None:
    response = as_role(app, "reviewer").post("/journeys/minimal/v1/new-draft")
    assert response.status_code == 403
    assert "Your role cannot change journeys." in page_of(response)


def test_review_tab_of_an_unknown_version_is_404(manager: FlaskClient, journey: Any) -> None:
    assert manager.get("/journeys/minimal/v7/review").status_code == 404
    assert manager.post("/journeys/minimal/v7/submit").status_code == 404
