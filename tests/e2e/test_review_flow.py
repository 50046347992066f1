"""Taking a journey live in Chromium: submit, review, fix, approve, publish moving running
cases, tick, first messages; pause and retire; the reviewer's canvas is truly read only."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import CaseRow, Database, OutboxRow, Runtime, VersionRow, save_version, utcnow
from tests.factories import example_doc, make_case, publish

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


def store(db: Database, name: str, key: str) -> None:
    """An example journey stored as draft version 1 under `key`, written by the manager."""
    doc = copy.deepcopy(example_doc(name)) | {"key": key}
    with db.transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org")


def ready(page: Any) -> None:
    """Wait until the canvas shows the journey."""
    page.wait_for_function("window.mahnwerkCanvas !== undefined")


def test_the_reviewers_canvas_has_no_editing_controls(reviewer_page: Any, db: Database) -> None:
    store(db, "uk-arrears-forbearance", "e2e-readonly")
    page = reviewer_page
    page.goto("/journeys/e2e-readonly/v1")
    ready(page)
    assert page.locator(".palette-item").count() == 0
    for name in ("Save draft", "Check", "Auto-arrange"):
        # exact: the steps are buttons too, and a step may be called "Affordability check"
        assert page.get_by_role("button", name=name, exact=True).count() == 0
    before = page.evaluate("window.mahnwerkCanvas.currentDocument()")

    # The A/B split: its arms are shown as text, with no Add/Remove buttons and no inputs.
    split = page.locator(".drawflow-node").filter(
        has=page.locator(".node-id", has_text="tone_test")
    )
    split.click()
    form = page.locator("#node-form")
    form.get_by_text("Arms 2").wait_for()
    assert form.locator("button, input, select, textarea").count() == 0
    assert "uk-day7-letter-tone" in form.inner_text()
    page.locator("#node-picker").focus()  # the Step list still selects, by keyboard
    page.keyboard.press("Home")

    # Nothing moves, wires or disappears: dragging a step, Delete on it.
    box = split.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 30, box["y"] + 220, steps=8)
    page.mouse.up()
    split.click()
    page.keyboard.press("Delete")
    assert page.evaluate("window.mahnwerkCanvas.currentDocument()") == before
    page.screenshot(path=f"{SCREENSHOTS}/mahnwerk-readonly.png", full_page=True)

    # The templates are read only too: no save button, text fields readonly.
    page.goto("/journeys/e2e-readonly/v1/templates")
    assert page.get_by_role("button", name="Save in this draft").count() == 0
    assert page.locator("#t-body").get_attribute("readonly") is not None


def published(db: Database, key: str, name: str, running: int = 0) -> None:
    """The minimal example published as version 1 of `key`, with `running` cases at wait_7."""
    doc = copy.deepcopy(example_doc("minimal")) | {"key": key, "name": name}
    now = utcnow()
    with db.transaction() as session:
        version = publish(session, doc, now)
        for i in range(running):
            make_case(
                session, version, now, external_id=f"{key.upper()}-RUN-{i}", due_date=now.date()
            )
    if running:
        Runtime(db).tick(now)  # from start to the 7-day wait


def versions_of(db: Database, external_ids: list[str]) -> set[int]:
    """The version numbers the cases are on."""
    with db.transaction() as session:
        rows = session.execute(
            select(VersionRow.number)
            .join(CaseRow, CaseRow.version_id == VersionRow.id)
            .where(CaseRow.external_id.in_(external_ids))
        )
        return {number for (number,) in rows}


def test_submit_review_fix_approve_publish_moving_cases_and_first_messages(
    page: Any, reviewer_page: Any, db: Database
) -> None:
    manager, reviewer = page, reviewer_page
    published(db, "e2e-live", "E2E live", running=3)
    running = [f"E2E-LIVE-RUN-{i}" for i in range(3)]

    # The manager continues from the published version in a new draft and submits it.
    manager.goto("/journeys/e2e-live/v1")
    ready(manager)
    manager.get_by_role("button", name="Edit in a new draft").click()
    manager.wait_for_url("**/journeys/e2e-live/v2")
    ready(manager)
    manager.locator("#node-picker").select_option(label="Friendly reminder — Send message")
    manager.locator("#f-label").fill("Friendly reminder email")
    manager.get_by_role("button", name="Save draft").click()
    manager.locator("#status").get_by_text("Draft version 2 saved.").wait_for()
    manager.get_by_role("link", name="Review and submit").click()
    manager.get_by_label("Note for the reviewers").fill("Clearer label")
    manager.get_by_role("button", name="Submit for review").click()
    manager.get_by_text("Version 2 is submitted for review.").wait_for()

    # The reviewer finds it waiting, comments on a step and requests a change.
    reviewer.goto("/journeys")
    reviewer.locator("#waiting").get_by_role("link", name="E2E live v2").click()
    reviewer.wait_for_url("**/journeys/e2e-live/v2/review")
    assert reviewer.locator(".diff-list").get_by_text("label").count() >= 1
    reviewer.get_by_label("Comment on").select_option("wait_7")
    reviewer.get_by_label("Comment", exact=True).fill("Seven days is too soon for shops.")
    reviewer.get_by_role("button", name="Add comment").click()
    reviewer.get_by_text("Your comment is in the history.").wait_for()
    reviewer.get_by_label("What should change").fill("Wait 10 days after the due date.")
    reviewer.get_by_role("button", name="Request changes").click()
    reviewer.get_by_text("Version 2 is sent back for changes.").wait_for()
    reviewer.screenshot(path=f"{SCREENSHOTS}/mahnwerk-review.png", full_page=True)

    # The manager reads why, fixes it in a new draft and submits again.
    manager.goto("/journeys/e2e-live/v2/review")
    history = manager.locator("#history")
    history.get_by_text("commented on step 'Wait until D+7' (wait_7)").wait_for()
    history.get_by_text("Wait 10 days after the due date.").wait_for()
    manager.get_by_role("button", name="Edit in a new draft").click()
    manager.wait_for_url("**/journeys/e2e-live/v3")
    ready(manager)
    manager.locator("#node-picker").select_option(label="Wait until D+7 — Wait")
    manager.locator("#f-params-days").fill("10")
    manager.get_by_role("button", name="Save draft").click()
    manager.locator("#status").get_by_text("Draft version 3 saved.").wait_for()
    manager.get_by_role("link", name="Review and submit").click()
    manager.get_by_label("Note for the reviewers").fill("10 days now")
    manager.get_by_role("button", name="Submit for review").click()
    manager.get_by_text("Version 3 is submitted for review.").wait_for()

    # The reviewer sees the change against the published version and approves it.
    reviewer.goto("/journeys")
    assert reviewer.locator("#waiting").get_by_role("link", name="E2E live v2").count() == 0
    reviewer.locator("#waiting").get_by_role("link", name="E2E live v3").click()
    reviewer.get_by_text("What changed since v1 (published)").wait_for()
    assert reviewer.locator(".diff-list").get_by_text("params.days").count() == 1
    reviewer.get_by_role("button", name="Approve").click()
    reviewer.get_by_text("Version 3 is approved: it can be published.").wait_for()

    # The manager publishes, moving the running cases: the dialog counts them first.
    manager.goto("/journeys/e2e-live/v3/review")
    manager.get_by_role("link", name="Publish …").click()
    preview = manager.locator("#publish-preview")
    assert "wait_7" in preview.inner_text() and "3" in preview.inner_text()
    manager.get_by_text("3 cases at step 'wait_7' of version 1 can move").wait_for()
    manager.get_by_label("Move running cases to this version").check()
    manager.screenshot(path=f"{SCREENSHOTS}/mahnwerk-publish.png", full_page=True)
    manager.get_by_role("button", name="Publish", exact=True).click()
    manager.get_by_text("Version 3 is published. Cases moved to it: 3; staying: 0.").wait_for()
    assert versions_of(db, running) == {3}

    # Cases imported into it through the import wizard ...
    manager.goto("/imports")
    due = (utcnow().date() - timedelta(days=30)).isoformat()
    csv = "external_id,debtor_name,email,country,amount,currency,due_date\n" + "".join(
        f"E2E-LIVE-NEW-{i},Debtor {i},new{i}@example.org,DE,120.00,EUR,{due}\n" for i in range(2)
    )
    manager.locator("input[type=file]").set_input_files(
        {"name": "cases.csv", "mimeType": "text/csv", "buffer": csv.encode()}
    )
    manager.get_by_role("button", name="Upload").click()
    manager.get_by_label("Journey").select_option("e2e-live")
    manager.get_by_role("button", name="Import", exact=True).click()
    manager.locator("#import-done .imported").get_by_text("2").wait_for(timeout=30000)
    assert versions_of(db, ["E2E-LIVE-NEW-0", "E2E-LIVE-NEW-1"]) == {3}

    # ... are ticked and get their first message in the outbox.
    with db.transaction() as session:
        ids = list(
            session.scalars(select(CaseRow.id).where(CaseRow.external_id.like("E2E-LIVE-NEW-%")))
        )
    for _ in range(3):
        Runtime(db).tick(utcnow())
        with db.transaction() as session:
            queued = session.scalars(
                select(OutboxRow.case_id).where(OutboxRow.case_id.in_(ids))
            ).all()
        if len(set(queued)) == 2:
            break
    assert len(set(queued)) == 2
    manager.goto("/outbox")
    manager.get_by_text("E2E-LIVE-NEW-0").first.wait_for()
    manager.get_by_text("E2E-LIVE-NEW-1").first.wait_for()


def test_pause_unpause_and_retire_with_a_confirmation_and_a_note(page: Any, db: Database) -> None:
    published(db, "e2e-pause", "E2E pause")
    page.goto("/journeys/e2e-pause/v1/review")
    page.get_by_role("link", name="Pause …").click()
    page.get_by_text("running cases wait at their step").wait_for()
    page.get_by_label("Note (why)").fill("Letters on hold during the audit")
    page.get_by_role("button", name="Yes, pause it").click()
    page.get_by_text("The journey is paused now.").wait_for()
    page.locator("#history").get_by_text("Letters on hold during the audit").wait_for()
    page.goto("/journeys")
    row = page.locator("tr").filter(has=page.get_by_text("e2e-pause", exact=True))
    assert "paused" in row.inner_text()

    page.goto("/journeys/e2e-pause/v1/review")
    page.get_by_role("link", name="Unpause …").click()
    page.get_by_role("button", name="Yes, unpause it").click()
    page.get_by_text("The journey is live now.").wait_for()

    page.get_by_role("link", name="Retire …").click()
    page.get_by_text("This cannot be undone").wait_for()
    page.get_by_label("Note (why)").fill("Replaced by the 2026 journey")
    page.get_by_role("button", name="Yes, retire it").click()
    page.get_by_text("The journey is retired now.").wait_for()
    assert "Version 1: retired" in page.locator("#state-title").inner_text()
    assert page.get_by_role("link", name="Pause …").count() == 0
    page.screenshot(path=f"{SCREENSHOTS}/mahnwerk-retired.png", full_page=True)
    # A retired journey takes no new draft: the refusal is in the page.
    page.get_by_role("button", name="Edit in a new draft").click()
    page.locator("#refusal").get_by_text("is retired: it takes no new versions").wait_for()
