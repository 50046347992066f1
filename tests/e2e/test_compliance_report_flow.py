"""Compliance review in Chromium: the reviewer opens the report of a draft and sees its BLOCK
finding highlighted; the manager fixes the text (now a HIGH finding) and submits; the reviewer
waives the HIGH finding in writing and approves from the report."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from engine import Database, save_version, utcnow
from tests.factories import example_doc

pytestmark = pytest.mark.e2e
KEY = "e2e-report"
THREAT = "Dear {{ debtor_name }}, pay {{ reference }} now or we will have you arrested."
FIRMER = "Dear {{ debtor_name }}, invoice {{ reference }} is still open. Please pay by Friday."


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def test_report_block_finding_fix_waive_and_approve(
    page: Any, reviewer_page: Any, db: Database
) -> None:
    doc = copy.deepcopy(example_doc("minimal")) | {"key": KEY, "name": "E2E report"}
    doc["templates"]["reminder"]["variants"][0]["body"] = THREAT
    with db.transaction() as session:
        save_version(session, doc, utcnow(), author="manager@example.org", allow_problems=True)
    manager, reviewer = page, reviewer_page

    # The reviewer reads the draft's report: the BLOCK finding stands out, with its rule.
    reviewer.goto(f"/journeys/{KEY}/v1/report")
    block = reviewer.locator("#report-findings .finding-block")
    block.first.wait_for()
    assert "EN-TONE-ARREST" in block.first.inner_text()
    assert block.first.locator(".grade-block").is_visible()
    assert reviewer.locator("#proof-time").inner_text().strip() != ""

    # The manager fixes the text in the template editor and submits the draft.
    manager.goto(f"/journeys/{KEY}/v1/templates?template=reminder&locale=en-GB&tone=1")
    manager.locator("#t-body").fill(FIRMER)
    with manager.expect_navigation():
        manager.get_by_role("button", name="Save in this draft").click()
    manager.goto(f"/journeys/{KEY}/v1/review")
    manager.locator("#submit-note").fill("Threat removed.")
    manager.get_by_role("button", name="Submit for review").click()
    manager.wait_for_url(f"**/journeys/{KEY}/v1/review")

    # The reviewer finds a HIGH finding that holds up approval, waives it with a reason ...
    reviewer.goto(f"/journeys/{KEY}/v1/review")
    approve = reviewer.locator("#approve-form button[type=submit]")
    assert approve.is_disabled()
    reviewer.locator(".waive-form textarea").first.fill("A week to pay is not pressure here.")
    reviewer.get_by_role("button", name="Waive this finding").first.click()
    reviewer.wait_for_url(f"**/journeys/{KEY}/v1/review")
    assert "A week to pay is not pressure here." in reviewer.locator("#findings").inner_text()

    # ... and approves from the report.
    reviewer.goto(f"/journeys/{KEY}/v1/report")
    assert reviewer.locator("#report-findings .finding-block").count() == 0
    reviewer.locator("#report-approve-note").fill("Fine now.")
    reviewer.locator("#report-approve-form button[type=submit]").click()
    reviewer.wait_for_url(f"**/journeys/{KEY}/v1/review")
    assert "Version 1 is approved" in reviewer.content()
