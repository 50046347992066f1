"""The canvas's journey settings set the readability targets (settings.readability) and save."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine import Database
from engine.storage.models import JourneyRow, VersionRow
from tests.e2e.test_review_flow import ready, store

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def targets(page: Any) -> Any:
    return page.evaluate("(window.mahnwerkCanvas.currentDocument().settings || {}).readability")


def test_a_manager_sets_and_clears_readability_targets(page: Any, db: Database) -> None:
    store(db, "minimal", "e2e-readability")
    page.goto("/journeys/e2e-readability/v1")
    ready(page)
    german, english = page.locator("#s-readability-de"), page.locator("#s-readability-en")
    assert german.input_value() == "" and english.input_value() == ""
    assert targets(page) is None

    german.fill("9")
    english.fill("60")
    assert targets(page) == {"de": 9, "en": 60}
    english.fill("")
    assert targets(page) == {"de": 9}
    page.get_by_role("button", name="Save draft").click()
    page.locator("#status").get_by_text("Draft version 1 saved.").wait_for()
    with db.transaction() as session:
        stored = session.scalar(
            select(VersionRow.document)
            .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
            .where(JourneyRow.key == "e2e-readability")
        )
    assert stored["settings"]["readability"] == {"de": 9}
    page.reload()
    ready(page)
    assert page.locator("#s-readability-de").input_value() == "9"
