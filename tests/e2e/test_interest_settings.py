"""The journey settings on the canvas set the interest a journey charges (docs/journeys.md,
"Fees and interest"): none, the statutory rate, or a fixed contract rate, from when."""

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


def interest(page: Any) -> Any:
    return page.evaluate("(window.mahnwerkCanvas.currentDocument().settings || {}).interest")


def test_a_manager_sets_statutory_then_a_fixed_rate(page: Any, db: Database) -> None:
    store(db, "minimal", "e2e-interest")
    page.goto("/journeys/e2e-interest/v1")
    ready(page)
    mode = page.locator("#s-interest-mode")
    assert mode.input_value() == "off"
    assert page.locator("#s-interest-rate").is_hidden()

    mode.select_option("statutory")
    page.locator("#s-interest-from").select_option("default")
    assert interest(page) == {"mode": "statutory", "from": "default"}

    mode.select_option("fixed")
    page.locator("#s-interest-rate").fill("8.5")
    assert interest(page) == {"mode": "fixed", "from": "default", "rate": "8.5"}
    page.get_by_role("button", name="Save draft").click()
    page.locator("#status").get_by_text("Draft version 1 saved.").wait_for()
    with db.transaction() as session:
        stored = session.scalar(
            select(VersionRow.document)
            .join(JourneyRow, JourneyRow.id == VersionRow.journey_id)
            .where(JourneyRow.key == "e2e-interest")
        )
    assert stored["settings"]["interest"] == {
        "mode": "fixed",
        "from": "default",
        "rate": "8.5",
        "default_after_days": 30,  # the default, written as validation loads it
    }

    mode.select_option("off")
    assert interest(page) is None
