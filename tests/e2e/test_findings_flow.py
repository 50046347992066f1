"""Compliance findings where the manager writes (issue 12, item 1): typed into the template
editor, a BLOCK phrase is marked at its words with its reason; the canvas's send step shows a
badge that leads back to it; fixing the text removes the mark and the badge."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from engine import Database, save_version, utcnow
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.factories import example_doc

pytestmark = pytest.mark.e2e
KEY = "e2e-findings"
EDITOR = f"/journeys/{KEY}/v1/templates?template=reminder&locale=en-GB&tone=1"
THREAT = "Dear {{ debtor_name }}, we will have you ARRESTED."
CLEAN = "Dear {{ debtor_name }}, your invoice {{ reference }} is open. You can pay online."


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def badge(page: Any) -> Any:
    """The badge of the 'Friendly reminder' step (it sends template 'reminder', tone 1)."""
    return page.locator(".drawflow-node[aria-label^='Send']", has_text="Friendly reminder")


def test_block_phrase_marked_in_the_editor_badged_on_the_canvas_and_gone_when_fixed(
    page: Any, db: Database
) -> None:
    doc = copy.deepcopy(example_doc("minimal")) | {"key": KEY, "name": "E2E findings"}
    doc["templates"]["reminder"]["variants"][0]["body"] = CLEAN
    with db.transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org", allow_problems=True)

    # The manager types the threat: it is marked at its very words, with rule and reason.
    page.goto(EDITOR)
    page.locator("#findings-none").wait_for()
    page.get_by_label("Text", exact=True).fill(THREAT)
    mark = page.locator("#findings mark.sev-block")
    mark.wait_for()
    assert mark.inner_text() == "ARRESTED"
    item = page.locator("#findings li.sev-block")
    assert "EN-TONE-ARREST" in item.inner_text() and "Threatens arrest" in item.inner_text()
    assert "Legal source:" in item.inner_text()
    # The keyboard reaches it: the finding's button selects the words in the field. Leaving the
    # field sends `change`, which fetches the preview (and its findings) once more: wait for
    # that swap, then focus the fresh button.
    select_it = item.get_by_role("button", name="Select it in the Text field")
    with page.expect_response(lambda r: r.url.endswith("/preview")) as answer:
        select_it.focus()
    answer.value.finished()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")
    select_it.focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => { const f = document.getElementById('t-body');"
        " return f.value.slice(f.selectionStart, f.selectionEnd) === 'ARRESTED'; }"
    )
    assert_no_serious_axe_violations(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Save in this draft").click()

    # The canvas: the step that sends it carries a BLOCK badge naming the rule.
    page.goto(f"/journeys/{KEY}/v1")
    step = badge(page)
    step.locator(".finding-badge.sev-block").wait_for()
    assert "BLOCK" in step.locator(".finding-badge").inner_text()
    assert "EN-TONE-ARREST" in (step.get_attribute("aria-label") or "")
    # Its panel links the finding to the editor, on that finding.
    step.focus()
    page.keyboard.press("Enter")
    link = page.locator(".step-findings a", has_text="EN-TONE-ARREST")
    with page.expect_navigation():
        link.click()
    assert "finding=EN-TONE-ARREST" in page.url
    page.locator("#findings li.current.sev-block").wait_for()

    # The fix: the mark goes away as the manager types, and the badge after saving.
    page.get_by_label("Text", exact=True).fill(CLEAN)
    page.locator("#findings-none").wait_for()
    assert page.locator("#findings mark").count() == 0
    with page.expect_navigation():
        page.get_by_role("button", name="Save in this draft").click()
    page.goto(f"/journeys/{KEY}/v1")
    badge(page).wait_for()
    page.wait_for_timeout(300)
    assert badge(page).locator(".finding-badge").count() == 0
