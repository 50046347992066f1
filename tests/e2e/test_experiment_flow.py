"""An experiment in Chromium: simulate a journey with a split, open its experiment page from the
split's side panel, read the verdict and the curves, promote the winner, and the reviewer finds
the new draft waiting for review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine import CaseRow, Database, Runtime, record_event, save_version, utcnow
from engine.storage.models import ExposureRow
from tests.factories import make_cases, publish, split_doc

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


def test_manager_reads_the_experiment_promotes_the_winner_and_the_reviewer_sees_it(
    page: Any, reviewer_page: Any, db: Database
) -> None:
    manager, reviewer = page, reviewer_page
    doc = split_doc(key="e2e-experiment") | {"name": "E2E experiment"}
    with db.transaction() as session:
        save_version(session, doc, utcnow(), status="published", author="admin@example.org")

    # Simulate the published version: 800 made-up cases over 12 days.
    manager.goto("/journeys/e2e-experiment/v1")
    manager.wait_for_function("window.mahnwerkCanvas !== undefined")
    manager.get_by_label("Cases").fill("800")
    manager.get_by_label("Days").fill("12")
    manager.get_by_role("button", name="Run simulation").click()
    manager.locator("#sim-done").wait_for(timeout=180_000)

    # The split's side panel links to its experiment page (chosen with the keyboard's picker).
    manager.locator("#node-picker").select_option(label="test — A/B split")
    manager.locator("#experiment-link").click()
    manager.wait_for_url("**/journeys/e2e-experiment/v1/experiments/test")
    verdict = manager.locator("#verdict").inner_text()
    assert verdict.startswith("B collects ") and "B is the winner" in verdict
    assert "this will not change with more data" in verdict
    assert manager.locator("svg.km .arm").count() == 2
    assert manager.locator("#km-table tbody tr").count() == 2
    assert manager.locator("#arms-table tbody tr").count() == 2
    manager.screenshot(path="/tmp/e2e-experiment-page.png", full_page=True)

    # Promote: a new draft with B at 100 %, submitted for review at once.
    manager.get_by_role("button", name="Promote B to 100 %").click()
    manager.wait_for_url("**/journeys/e2e-experiment/v2/review")
    manager.get_by_text("Version 2 is a new draft with arm B at 100 %.").wait_for()
    assert "It is submitted for review." in manager.locator(".flashes").inner_text()

    # The reviewer finds it waiting, with the promotion in its history.
    reviewer.goto("/journeys")
    reviewer.locator("#waiting").get_by_role("link", name="E2E experiment v2").click()
    reviewer.wait_for_url("**/journeys/e2e-experiment/v2/review")
    reviewer.get_by_text("promoted an experiment's winner to this new draft").first.wait_for()


def test_a_running_experiment_is_read_from_its_live_cases_and_promoted(
    page: Any, reviewer_page: Any, db: Database
) -> None:
    """A published journey whose split has run for 12 days on real cases: B's debtors paid,
    A's did not. The page reads the live facts, the manager promotes B, the reviewer sees it."""
    manager, reviewer = page, reviewer_page
    start = utcnow() - timedelta(days=12)
    doc = split_doc(key="e2e-live-experiment") | {"name": "E2E live experiment"}
    with db.transaction() as session:
        version = publish(session, doc, start)
        version_id = version.id
        make_cases(session, version, start, 600)
    runtime = Runtime(db)
    runtime.tick(start)  # every case meets the split: A closes, B gets its email
    with db.transaction() as session:
        in_b = session.scalars(
            select(CaseRow.external_id)
            .join(ExposureRow, ExposureRow.case_id == CaseRow.id)
            .where(ExposureRow.arm == "B", CaseRow.version_id == version_id)
            .order_by(CaseRow.id)
        ).all()
    paid_at = start + timedelta(days=1)
    with db.transaction() as session:
        for i, external_id in enumerate(in_b):
            if i % 5 < 3:  # three in five of B's debtors pay in full the next day
                payload = {"amount": "250.00", "currency": "EUR"}
                record_event(
                    session, external_id, f"e2e-live-{i}", "payment_received", payload, paid_at
                )
    runtime.tick(paid_at)

    manager.goto("/journeys/e2e-live-experiment/v1")
    manager.wait_for_function("window.mahnwerkCanvas !== undefined")
    manager.locator("#node-picker").select_option(label="test — A/B split")
    manager.locator("#experiment-link").click()
    manager.wait_for_url("**/journeys/e2e-live-experiment/v1/experiments/test")
    assert manager.locator("#run").input_value() == "live"
    verdict = manager.locator("#verdict").inner_text()
    assert verdict.startswith("B collects ") and "B is the winner" in verdict
    assert manager.locator("svg.km .arm").count() == 2

    manager.get_by_role("button", name="Promote B to 100 %").click()
    manager.wait_for_url("**/journeys/e2e-live-experiment/v2/review")
    reviewer.goto("/journeys")
    reviewer.locator("#waiting").get_by_role("link", name="E2E live experiment v2").click()
    reviewer.wait_for_url("**/journeys/e2e-live-experiment/v2/review")
    reviewer.get_by_text("promoted an experiment's winner to this new draft").first.wait_for()
