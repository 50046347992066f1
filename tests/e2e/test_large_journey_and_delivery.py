"""A 150-step journey on the canvas, retrying a dead letter, and a test send, in Chromium."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bench.designer_bench import build_document
from engine import Database, save_version, utcnow
from engine.storage.models import OutboxRow
from tests.factories import example_doc, make_case, publish

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


WIRES = """() => [...document.querySelectorAll('#canvas svg.connection path')]
  .map((p) => p.getAttribute('d'))"""


def test_a_150_step_journey_is_drawn_whole(page: Any, db: Database) -> None:
    doc = build_document(150, key="e2e-large")
    with db.transaction() as session:
        save_version(session, copy.deepcopy(doc), utcnow(), author="e2e")
    page.goto("/journeys/e2e-large/v1")
    page.wait_for_function("window.mahnwerkCanvas !== undefined")
    assert page.locator("#canvas .drawflow-node").count() == 150
    drawn = page.evaluate(WIRES)
    assert len(drawn) == len(doc["edges"]) and all(d and d.strip() for d in drawn)
    # The batched drawing must match Drawflow's own, node by node.
    redrawn = page.evaluate(
        """() => { const ed = window.mahnwerkCanvas.editor;
          for (const n of document.querySelectorAll('#canvas .drawflow-node'))
            ed.updateConnectionNodes(n.id);
        }"""
    )
    assert redrawn is None and page.evaluate(WIRES) == drawn
    # Drawflow's own updates are back after loading: moving a step moves its wires.
    box = page.locator("#canvas .drawflow-node").nth(0).bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + 220, steps=8)
    page.mouse.up()
    moved = page.evaluate(WIRES)
    assert moved != drawn and len(moved) == len(drawn)
    # And the document the canvas would save still has every wire.
    saved = page.evaluate("window.mahnwerkCanvas.currentDocument()")
    assert len(saved["nodes"]) == 150 and len(saved["edges"]) == len(doc["edges"])


def test_retry_a_dead_letter_from_the_outbox(page: Any, db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        version = publish(session, example_doc("minimal") | {"key": "e2e-outbox"}, now)
        case = make_case(session, version, now, external_id="INV-E2E-DEAD")
        row = OutboxRow(
            idempotency_key="e2e-dead-1",
            case_id=case.id,
            version_id=version.id,
            node_id="reminder",
            channel="email",
            template="reminder",
            tone=1,
            status="dead",
            reason="SMTP 421 service not available",
            attempts=6,
            not_before=now - timedelta(hours=1),
            created_at=now,
        )
        session.add(row)
        session.flush()
        message_id = row.id
    page.goto("/outbox")
    # The filter reloads the list by htmx: wait for that answer, or the click below may land on
    # the list it is about to replace.
    with page.expect_response(lambda r: "/outbox" in r.url and "status=dead" in r.url):
        page.get_by_label("Status").select_option("dead")
    item = page.locator(f"#message-{message_id}")
    item.get_by_text("SMTP 421 service not available").wait_for()
    item.get_by_role("button", name=f"Retry message {message_id}").click()
    page.locator(f"#message-{message_id}").get_by_text("is back in the queue").wait_for()
    assert page.locator(f"#message-{message_id} .status-pending").count() == 1
    with db.transaction() as session:
        assert session.get(OutboxRow, message_id).status == "pending"


def test_admin_sends_a_test_email(admin_page: Any) -> None:
    page = admin_page
    page.get_by_role("link", name="Delivery").click()
    page.wait_for_url("**/settings/delivery")
    page.get_by_label("Email address").fill("ops@example.org")
    page.get_by_role("button", name="Send test email").click()
    result = page.locator("#test-result-email")
    result.get_by_text("accepted").wait_for()
    assert "sandbox-email-test-" in result.inner_text()
    page.screenshot(path="/tmp/mahnwerk-delivery.png", full_page=True)
