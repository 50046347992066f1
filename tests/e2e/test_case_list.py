"""The case list in a browser: paged with the keyboard through htmx with a shareable URL, a bad
filter named on the page, and no serious axe-core finding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from engine import Database, utcnow
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_canvas_keyboard import tab_to
from tests.factories import example_doc, make_cases, publish

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


def test_the_case_list_pages_with_the_keyboard_and_passes_axe(page: Any, db: Database) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with db.transaction() as session:
        version = publish(session, example_doc("minimal") | {"key": "e2e-list"}, utcnow())
        make_cases(session, version, utcnow(), 60)
    page.goto("/cases?journey=e2e-list&sort=-amount")
    assert "Cases found: 60" in page.inner_text("#results")
    assert_no_serious_axe_violations(page)

    tab_to(page, "a[rel=next]", limit=120)
    page.keyboard.press("Enter")
    page.wait_for_function("location.search.includes('page=2')")
    page.wait_for_selector("text=page 2 of 2")
    assert "journey=e2e-list" in page.url and "sort=-amount" in page.url  # a link to share
    assert page.locator("#results tbody tr").count() == 10
    assert_no_serious_axe_violations(page)

    tab_to(page, "#amount_min", back=True, limit=160)
    page.keyboard.type("abc")
    page.keyboard.press("Enter")
    alert = page.wait_for_selector("#case-errors")
    assert "Amount from" in alert.inner_text()
    assert_no_serious_axe_violations(page)
    assert not errors, errors
