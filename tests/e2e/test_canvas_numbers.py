"""e2e in Chromium: the Numbers toggle shows counts on the steps, thick wires and a table."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from engine import Database, Runtime, utcnow
from tests.factories import example_doc, make_case, publish

pytestmark = pytest.mark.e2e


@pytest.fixture
def running(database_url: str) -> str:
    """A journey of its own, published, with three cases that entered it now."""
    doc = copy.deepcopy(example_doc("minimal"))
    doc["key"], doc["name"] = "numbers-e2e", "Numbers e2e"
    db = Database(database_url)
    with db.transaction() as session:
        version = publish(session, doc, utcnow())
        for _ in range(3):
            make_case(session, version, utcnow())
    Runtime(db).tick(utcnow())
    db.dispose()
    return doc["key"]


def test_numbers_overlay_toggles_on_and_off(page: Any, running: str) -> None:
    page.goto(f"/journeys/{running}/v1")
    page.wait_for_function("window.mahnwerkCanvas !== undefined")
    toggle = page.locator("#btn-numbers")
    toggle.focus()
    page.keyboard.press("Enter")  # keyboard first
    page.wait_for_selector("#canvas .node-numbers")
    assert toggle.get_attribute("aria-pressed") == "true"
    badges = page.locator("#canvas .node-numbers").all_inner_texts()
    assert any(text.startswith("↘ 3") for text in badges), badges
    assert page.locator("#numbers-table").is_visible()
    assert page.locator("#numbers-steps tr").count() >= 2
    widths = page.eval_on_selector_all(
        "#canvas svg.connection path.main-path", "ps => ps.map(p => p.style.strokeWidth)"
    )
    assert "14px" in widths  # a wire carrying all of its step's cases: 2 + 12 px
    toggle.click()
    assert page.locator("#canvas .node-numbers").count() == 0
    assert not page.locator("#numbers-table").is_visible()
