"""Build a journey in the browser, break and fix it, compare versions and simulate it."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.e2e
SCREENSHOTS = "/tmp"


def step(page: Any, node_id: str) -> Any:
    """The Drawflow node showing the step with this id."""
    return page.locator(".drawflow-node").filter(
        has=page.locator(".node-id", has_text=re.compile(f"^{node_id}$"))
    )


def drag_from_palette(page: Any, type_name: str, x: int, y: int) -> None:
    """Drag a palette entry onto the canvas at (x, y) relative to the canvas."""
    page.locator(f".palette-item[data-type='{type_name}']").drag_to(
        page.locator("#canvas"), target_position={"x": x, "y": y}
    )


def wire(page: Any, source: str, output: int, target: str) -> None:
    """Drag from a step's output port to another step's input port."""
    out = step(page, source).locator(f".outputs .output_{output}").bounding_box()
    inp = step(page, target).locator(".inputs .input_1").bounding_box()
    page.mouse.move(out["x"] + out["width"] / 2, out["y"] + out["height"] / 2)
    page.mouse.down()
    page.mouse.move(inp["x"] + inp["width"] / 2, inp["y"] + inp["height"] / 2, steps=12)
    page.mouse.up()


def select_step(page: Any, node_id: str) -> None:
    """Choose a step in the side panel's step list (the keyboard way)."""
    option = page.locator("#node-picker option", has_text=f"({node_id})")
    if option.count() == 0:
        option = page.locator("#node-picker option").filter(has_text=node_id)
    page.locator("#node-picker").select_option(value=_df_id(page, node_id))


def _df_id(page: Any, node_id: str) -> str:
    return step(page, node_id).get_attribute("id").removeprefix("node-")


def save(page: Any) -> None:
    page.get_by_role("button", name="Save draft").click()


def test_build_check_diff_and_simulate(page: Any) -> None:
    page.get_by_label("Name").last.fill("E2E reminder")
    page.get_by_label("Key", exact=True).fill("e2e")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url("**/journeys/e2e/v1")

    # Build: start -> wait -> send -> condition; 'large' loops back to the wait, else ends.
    drag_from_palette(page, "wait", 260, 20)
    drag_from_palette(page, "send", 500, 20)
    drag_from_palette(page, "condition", 740, 20)
    drag_from_palette(page, "end", 740, 320)
    for node_id in ("wait_1", "send_1", "condition_1", "end_1"):
        step(page, node_id).wait_for()

    select_step(page, "wait_1")
    page.locator("#f-params-days").fill("3")
    select_step(page, "send_1")
    page.locator("#f-params-channel").select_option("email")
    page.locator("#f-params-template").select_option("reminder")  # the journey's templates
    select_step(page, "end_1")
    page.locator("#f-params-outcome").select_option("closed")
    select_step(page, "condition_1")
    page.get_by_role("button", name="Add: Branches").click()
    page.locator("#f-params-branches-0-port").fill("large")
    page.get_by_role("button", name="Add: When").click()
    page.locator("#f-params-branches-0-when-0-field").fill("amount_open")
    page.locator("#f-params-branches-0-when-0-op").select_option("gt")
    page.locator("#f-params-branches-0-when-0-value").fill("100")
    # the condition gains its 'large' port once the server has the new params
    step(page, "condition_1").locator(".outputs .output_2").wait_for()

    select_step(page, "start")  # the keyboard way: start's next step becomes the wait
    page.get_by_label("Next → Next step").select_option(_df_id(page, "wait_1"))
    wire(page, "wait_1", 1, "send_1")
    wire(page, "send_1", 1, "condition_1")
    wire(page, "condition_1", 1, "wait_1")
    wire(page, "condition_1", 2, "end_1")
    select_step(page, "end")  # the starter's end is not needed any more
    page.get_by_role("button", name="Delete step").click()
    assert step(page, "end").count() == 0
    save(page)  # a draft is saved in place: still version 1
    page.locator("#status").get_by_text("Draft version 1 saved.").wait_for()
    assert page.url.endswith("/journeys/e2e/v1")
    page.screenshot(path=f"{SCREENSHOTS}/mahnwerk-editor.png", full_page=True)

    # Break it: an email template sent as an SMS. The draft is saved all the same, and the
    # problem shows on the send step.
    select_step(page, "send_1")
    page.locator("#f-params-channel").select_option("sms")
    save(page)
    step(page, "send_1").and_(page.locator(".has-problem")).wait_for()
    assert "'reminder' is for email" in step(page, "send_1").locator(".node-problem").inner_text()
    assert page.locator("#problems").get_by_text("'reminder' is for email").count() >= 1
    assert page.locator(".drawflow-node.has-problem").count() == 1
    assert "Problems to fix before it can be submitted: 1." in page.locator("#status").inner_text()
    page.screenshot(path=f"{SCREENSHOTS}/mahnwerk-problem.png", full_page=True)
    # Stored with its problem: a reload shows it again.
    page.reload()
    step(page, "send_1").and_(page.locator(".has-problem")).wait_for()

    # Fix it, save, and submit version 1; then change the wait in a new draft, version 2.
    select_step(page, "send_1")
    page.locator("#f-params-channel").select_option("email")
    save(page)
    page.locator("#status").get_by_text("Draft version 1 saved.").wait_for()
    assert page.locator(".drawflow-node.has-problem").count() == 0
    page.get_by_role("link", name="Review and submit").click()
    page.get_by_label("Note for the reviewers").fill("first cut")
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text("Version 1 is submitted for review.").wait_for()
    page.get_by_role("link", name="Canvas").click()
    page.get_by_role("button", name="Edit in a new draft").click()
    page.wait_for_url("**/journeys/e2e/v2")
    select_step(page, "wait_1")
    page.locator("#f-params-days").fill("5")
    save(page)
    page.locator("#status").get_by_text("Draft version 2 saved.").wait_for()

    # The diff from v1 to v2 lists the changed wait and marks it on the canvas.
    page.goto("/journeys/e2e/diff?a=1&b=2")
    assert page.locator(".diff-list").get_by_text("params.days").count() == 1
    step(page, "wait_1").and_(page.locator(".mark-changed")).wait_for()
    page.screenshot(path=f"{SCREENSHOTS}/mahnwerk-diff.png", full_page=True)

    # Simulate v2: progress, then the charts.
    page.goto("/journeys/e2e/v2")
    page.get_by_label("Cases").fill("60")
    page.get_by_label("Days").fill("20")
    page.get_by_role("button", name="Run simulation").click()
    page.locator("#sim-done svg.chart").first.wait_for(timeout=60000)
    assert page.locator("#sim-done svg.chart rect.series-email").count() > 0
    page.locator("#simulation").screenshot(path=f"{SCREENSHOTS}/mahnwerk-simulation.png")
