"""Taking a journey live in Chromium: submit, review, fix, approve, publish moving running
cases, tick, first messages; pause and retire; the reviewer's canvas is truly read only."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from engine import Database, save_version, utcnow
from tests.factories import example_doc

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
        assert page.get_by_role("button", name=name).count() == 0
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
