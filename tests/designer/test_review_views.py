"""The Review tab and the steps that take a journey live, from the designer: each action, and
each refusal shown in the page (never a 500), in the user's language."""

from __future__ import annotations

import copy
import html
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import open_for_cases, utcnow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import make_case

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
    marker = '<code title="'
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


# -- review: approve, request changes, comments --------------------------------------------------


def submitted(manager: FlaskClient) -> FlaskClient:
    """Version 1 of 'minimal' submitted by the manager."""
    response = manager.post("/journeys/minimal/v1/submit", data={"note": "please look"})
    assert response.status_code == 302
    return manager


def test_review_tab_shows_rules_templates_and_history(manager: FlaskClient, journey: Any) -> None:
    page = page_of(submitted(manager).get(REVIEW))
    assert "When a case" in page  # the rules as sentences
    assert "A friendly reminder" in page  # the template texts
    assert "submitted for review" in page and "please look" in page  # the history
    assert "No earlier version was published or approved: all of it is new." in page


def test_waiting_for_my_review_lists_the_submitted_version(app: Flask, journey: Any) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    page = page_of(reviewer.get("/journeys"))
    assert "Waiting for my review" in page and 'href="/journeys/minimal/v1/review"' in page
    assert "in review" in page and "not published yet" in page


def test_the_manager_sees_no_review_list(manager: FlaskClient, journey: Any) -> None:
    assert "Waiting for my review" not in page_of(manager.get("/journeys"))


def test_a_reviewer_approves_the_content_shown(app: Flask, journey: Any) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    page = page_of(reviewer.get(REVIEW))
    assert "Approve" in page and "Request changes" in page
    response = reviewer.post(
        "/journeys/minimal/v1/approve", data={"note": "fine", "content_hash": digest(reviewer)}
    )
    assert response.status_code == 302
    page = page_of(reviewer.get(REVIEW))
    assert "Version 1 is approved: it can be published." in page
    assert "Version 1: approved" in page and "fine" in page
    assert "Nothing is waiting for your review." in page_of(reviewer.get("/journeys"))


def test_an_approval_of_other_content_is_refused(app: Flask, journey: Any) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    response = reviewer.post("/journeys/minimal/v1/approve", data={"content_hash": "0" * 64})
    assert response.status_code == 409
    assert "is not the content that was reviewed; reload it and review it again" in page_of(
        response
    )
    assert "Version 1: in review" in page_of(response)


def test_an_approval_after_changes_were_requested_names_the_state(app: Flask, journey: Any) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    seen = digest(reviewer)
    reviewer.post("/journeys/minimal/v1/request-changes", data={"note": "wait 10 days"})
    response = reviewer.post("/journeys/minimal/v1/approve", data={"content_hash": seen})
    assert response.status_code == 409
    assert "is 'changes requested', not 'in review': it cannot be approved" in page_of(response)


def test_a_manager_cannot_approve(app: Flask, journey: Any) -> None:
    manager = submitted(as_role(app, "manager"))
    response = manager.post("/journeys/minimal/v1/approve", data={"content_hash": digest(manager)})
    assert response.status_code == 403
    assert "may not approve a version" in page_of(response)


def test_request_changes_needs_a_note_and_then_sends_the_version_back(
    app: Flask, journey: Any
) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    response = reviewer.post("/journeys/minimal/v1/request-changes", data={"note": " "})
    assert response.status_code == 422
    assert "Say what should change: a note is needed." in page_of(response)
    reviewer.post("/journeys/minimal/v1/request-changes", data={"note": "wait 10 days"})
    page = page_of(reviewer.get(REVIEW))
    assert "Version 1: changes requested" in page and "wait 10 days" in page


def test_comments_anchor_to_a_step_or_a_template(app: Flask, journey: Any) -> None:
    submitted(as_role(app, "manager"))
    reviewer = as_role(app, "reviewer")
    page = page_of(reviewer.get(REVIEW))
    assert '<option value="wait_7">' in page and '<option value="template:reminder">' in page
    reviewer.post("/journeys/minimal/v1/comment", data={"note": "too soon", "anchor": "wait_7"})
    reviewer.post(
        "/journeys/minimal/v1/comment", data={"note": "friendlier", "anchor": "template:reminder"}
    )
    page = page_of(reviewer.get(REVIEW))
    assert "commented on step 'Wait until D+7' (wait_7)" in page and "too soon" in page
    assert "commented on template 'reminder'" in page and "friendlier" in page


def test_a_comment_on_an_unknown_step_is_refused_in_the_page(app: Flask, journey: Any) -> None:
    reviewer = as_role(app, "reviewer")
    response = reviewer.post(
        "/journeys/minimal/v1/comment", data={"note": "x", "anchor": "nowhere"}
    )
    assert response.status_code == 422
    assert "'nowhere' is neither a step nor a template of version 1." in page_of(response)


def test_a_viewer_cannot_comment(viewer: FlaskClient, journey: Any) -> None:
    response = viewer.post("/journeys/minimal/v1/comment", data={"note": "hello"})
    assert response.status_code == 403
    assert "may not comment on a version" in page_of(response)
    assert 'id="comment-form"' not in page_of(viewer.get(REVIEW))


def test_the_review_tab_reads_in_german(app: Flask, journey: Any) -> None:
    reviewer = as_role(app, "reviewer")
    reviewer.post("/lang/de")
    submitted(as_role(app, "manager"))
    page = page_of(reviewer.get(REVIEW))
    assert "Freigeben" in page and "in Prüfung" in page
    response = reviewer.post("/journeys/minimal/v1/approve", data={"content_hash": "x"})
    assert "ist nicht der geprüfte Inhalt" in page_of(response)


# -- publish, pause, unpause, retire --------------------------------------------------------------


def approved(app: Flask, number: int = 1) -> tuple[FlaskClient, FlaskClient]:
    """Version `number` of 'minimal' submitted by the manager and approved by the reviewer."""
    manager, reviewer = as_role(app, "manager"), as_role(app, "reviewer")
    manager.post(f"/journeys/minimal/v{number}/submit")
    url = f"/journeys/minimal/v{number}/review"
    response = reviewer.post(
        f"/journeys/minimal/v{number}/approve", data={"content_hash": digest(reviewer, url)}
    )
    assert response.status_code == 302
    return manager, reviewer


def test_the_publish_dialog_offers_stay_or_move_and_now_or_later(app: Flask, journey: Any) -> None:
    manager, _reviewer = approved(app)
    page = page_of(manager.get(REVIEW))
    assert 'href="/journeys/minimal/v1/publish"' in page
    page = page_of(manager.get("/journeys/minimal/v1/publish"))
    assert 'value="stay" checked' in page and 'value="move" >' in page
    assert 'value="now" checked' in page and 'type="datetime-local"' in page
    assert "This will be the journey's first published version." in page


def test_publish_now_makes_the_journey_live(app: Flask, journey: Any) -> None:
    manager, _reviewer = approved(app)
    response = manager.post("/journeys/minimal/v1/publish", data={"running": "stay"})
    assert response.status_code == 302
    page = page_of(manager.get(REVIEW))
    assert "Version 1 is published. Cases moved to it: 0; staying: 0." in page
    assert "Version 1: published" in page and "Pause …" in page
    listing = page_of(manager.get("/journeys"))
    assert "live" in listing and "v1 published" in listing


def test_the_dialog_counts_running_cases_per_step_and_moves_them(app: Flask, journey: dict) -> None:
    manager, _reviewer = approved(app)
    manager.post("/journeys/minimal/v1/publish")
    with app.app_context(), get_db().transaction() as session:
        version = open_for_cases(session, "minimal")
        for _i in range(3):
            make_case(session, version, utcnow())
    manager.post("/journeys/minimal/v1/new-draft")
    approved(app, 2)
    page = page_of(manager.get("/journeys/minimal/v2/publish"))
    assert "Version 1 is published now; publishing this one supersedes it." in page
    assert "3 cases at step 'start' of version 1 can move to the new version." in page
    manager.post("/journeys/minimal/v2/publish", data={"running": "move", "note": "go"})
    page = page_of(manager.get("/journeys/minimal/v2/review"))
    assert "Cases moved to it: 3; staying: 0." in page
    assert "moved running cases to this version" in page


def test_the_dialog_reads_in_german(app: Flask, journey: Any) -> None:
    manager, _reviewer = approved(app)
    manager.post("/lang/de")
    page = page_of(manager.get("/journeys/minimal/v1/publish"))
    assert "Laufende Fälle in ihrer Version lassen" in page


def test_publish_at_a_time_is_scheduled_and_can_be_cancelled(app: Flask, journey: Any) -> None:
    manager, _reviewer = approved(app)
    data = {"when": "at", "at": "2099-01-02T03:04", "running": "move"}
    manager.post("/journeys/minimal/v1/publish", data=data)
    page = page_of(manager.get(REVIEW))
    assert "Version 1 will be published at 2099-01-02 03:04 UTC." in page
    assert "Publishing is chosen for 2099-01-02 03:04 UTC; running cases move." in page
    manager.post("/journeys/minimal/v1/unschedule")
    page = page_of(manager.get(REVIEW))
    assert "The publish at a chosen time is cancelled." in page and "Publish …" in page


def test_publish_at_a_past_or_missing_time_is_refused_in_the_dialog(
    app: Flask, journey: Any
) -> None:
    manager, _reviewer = approved(app)
    response = manager.post("/journeys/minimal/v1/publish", data={"when": "at", "at": ""})
    assert response.status_code == 422
    assert "Choose a date and time to publish at." in page_of(response)
    response = manager.post(
        "/journeys/minimal/v1/publish", data={"when": "at", "at": "2001-01-01T00:00"}
    )
    assert response.status_code == 422
    assert "Choose a time in the future, or publish now." in page_of(response)


def test_publishing_a_version_not_approved_names_its_state(
    manager: FlaskClient, journey: Any
) -> None:
    response = manager.post("/journeys/minimal/v1/publish")
    assert response.status_code == 409
    assert "is 'draft', not 'approved': it cannot be published" in page_of(response)


def test_a_reviewer_cannot_publish(app: Flask, journey: Any) -> None:
    _manager, reviewer = approved(app)
    assert reviewer.get("/journeys/minimal/v1/publish").status_code == 403
    response = reviewer.post("/journeys/minimal/v1/publish")
    assert response.status_code == 403
    assert "may not publish a version" in page_of(response)


def live(app: Flask) -> FlaskClient:
    """Version 1 of 'minimal' published; the manager's browser."""
    manager, _reviewer = approved(app)
    manager.post("/journeys/minimal/v1/publish")
    return manager


def test_pause_unpause_and_retire_each_confirm_with_a_note(app: Flask, journey: Any) -> None:
    manager = live(app)
    page = page_of(manager.get("/journeys/minimal/pause?back=1"))
    assert "running cases wait at their step" in page and 'name="note"' in page
    response = manager.post("/journeys/minimal/pause", data={"note": "audit", "back": "1"})
    assert response.headers["Location"] == "/journeys/minimal/v1/review"
    page = page_of(manager.get(REVIEW))
    assert "The journey is paused now." in page and "Unpause …" in page
    assert "paused the journey" in page and "audit" in page
    manager.post("/journeys/minimal/unpause", data={"back": "1"})
    assert "The journey is live now." in page_of(manager.get(REVIEW))
    assert "cannot be undone" in page_of(manager.get("/journeys/minimal/retire?back=1"))
    manager.post("/journeys/minimal/retire", data={"note": "replaced", "back": "1"})
    page = page_of(manager.get(REVIEW))
    assert "The journey is retired now." in page and "retired the journey" in page
    assert "Version 1: retired" in page


def test_pausing_a_journey_that_is_not_live_is_refused_in_the_page(
    manager: FlaskClient, journey: Any
) -> None:
    response = manager.post("/journeys/minimal/pause", data={"note": "x"})
    assert response.status_code == 409
    assert "only a live journey can be paused" in page_of(response)


def test_unpausing_a_live_journey_is_refused(app: Flask, journey: Any) -> None:
    response = live(app).post("/journeys/minimal/unpause")
    assert response.status_code == 409
    assert "not paused: there is nothing to unpause" in page_of(response)


def test_a_retired_journey_takes_no_new_draft(app: Flask, journey: Any) -> None:
    manager = live(app)
    manager.post("/journeys/minimal/retire")
    response = manager.post("/journeys/minimal/v1/new-draft")
    assert response.status_code == 409
    assert "is retired: it takes no new versions" in page_of(response)


def test_a_reviewer_cannot_pause(app: Flask, journey: Any) -> None:
    live(app)
    reviewer = as_role(app, "reviewer")
    assert reviewer.get("/journeys/minimal/pause").status_code == 403
    response = reviewer.post("/journeys/minimal/pause")
    assert response.status_code == 403
    assert "may not pause, unpause or retire a journey" in page_of(response)
