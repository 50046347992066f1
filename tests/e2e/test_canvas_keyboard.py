"""The canvas that helps (issue 16): a 10-step journey built with the keyboard alone, using
auto-placement, auto-wiring, undo and redo and the template picker; one output, one wire;
fit to screen, the minimap and the zoom label; and no serious axe-core finding on the pages a
collection manager lives in."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from engine import Database, utcnow
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_review_flow import store
from tests.factories import example_doc, make_case, publish

pytestmark = pytest.mark.e2e


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The end-to-end server's database, opened from the test."""
    database = Database(database_url)
    yield database
    database.dispose()


def focused(page: Any, selector: str) -> bool:
    return page.evaluate(
        "(s) => !!document.activeElement && document.activeElement.matches(s)", selector
    )


def tab_to(page: Any, selector: str, limit: int = 80, back: bool = False) -> None:
    """Press Tab (or Shift+Tab) until the element matching `selector` has the focus."""
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Shift+Tab" if back else "Tab")
    where = page.evaluate("document.activeElement.outerHTML.slice(0, 200)")
    raise AssertionError(f"{selector} not reached with the keyboard in {limit} presses ({where})")


def choose(page: Any, selector: str, value: str) -> None:
    """Pick an option of the focused <select> with the arrow keys, as a keyboard user does."""
    tab_to(page, selector)
    options = page.evaluate(
        "(s) => [...document.querySelector(s).options].map((o) => o.value)", selector
    )
    assert value in options, (value, options)
    page.keyboard.press("Home")
    for _ in range(options.index(value)):
        page.keyboard.press("ArrowDown")
    assert page.locator(selector).input_value() == value, (
        options,
        page.evaluate("document.activeElement.outerHTML.slice(0, 300)"),
        page.locator("#status").inner_text(),
    )


def type_into(page: Any, selector: str, text: str) -> None:
    tab_to(page, selector)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def steps(page: Any) -> list[str]:
    return page.evaluate("window.mahnwerkCanvas.currentDocument().nodes.map((n) => n.id)")


def add_next(page: Any, type_name: str) -> str:
    """From the selected step's form: add a step of this type after it; returns its id."""
    before = set(steps(page))
    choose(page, "#add-next-type", type_name)
    tab_to(page, "#btn-add-next")
    page.keyboard.press("Enter")
    (new,) = set(steps(page)) - before
    # the new step has the focus, on the canvas, ready for Enter
    assert focused(page, ".drawflow-node"), "the new step is not focused"
    assert page.evaluate("document.activeElement.querySelector('.node-id').textContent") == new
    page.keyboard.press("Enter")  # into its form
    assert focused(page, "#f-label")
    return new


def test_a_ten_step_journey_with_the_keyboard_alone(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # A new journey asks for language, currency and jurisdiction.
    type_into(page, "input[name=name]", "Keyboard journey")
    type_into(page, "input[name=key]", "e2e-keys")
    choose(page, "select[name=locale]", "de")
    type_into(page, "input[name=currency]", "EUR")
    choose(page, "select[name=jurisdiction]", "DE")
    tab_to(page, "form.new-journey button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url("**/journeys/e2e-keys/v1")
    page.wait_for_function("window.mahnwerkCanvas !== undefined")
    doc = page.evaluate("window.mahnwerkCanvas.currentDocument()")
    assert (doc["locale"], doc["currency"], doc["jurisdiction"]) == ("de", "EUR", "DE")

    # Tab reaches the canvas: the start step (the first) is the one in the Tab order.
    tab_to(page, ".drawflow-node")
    assert page.evaluate("document.activeElement.querySelector('.node-id').textContent") == "start"
    page.keyboard.press("Enter")

    wait_1 = add_next(page, "wait")
    type_into(page, "#f-params-days", "3")
    send_1 = add_next(page, "send")
    choose(page, "#f-params-channel", "email")
    choose(page, "#f-params-template", "reminder")  # the picker of the journey's templates
    page.locator("#f-params-template-variant").get_by_text("de").wait_for()

    # Undo and redo a whole step, with the keyboard on the canvas.
    wait_2 = add_next(page, "wait")
    tab_to(page, ".drawflow-node[tabindex='0']", back=True)
    page.keyboard.press("Control+z")
    assert wait_2 not in steps(page)
    page.keyboard.press("Control+Shift+z")
    assert wait_2 in steps(page)
    tab_to(page, ".drawflow-node[tabindex='0']", back=True)
    page.keyboard.press("Enter")
    type_into(page, "#f-params-days", "7")

    # A second send step creates its own template from the step.
    send_2 = add_next(page, "send")
    choose(page, "#f-params-channel", "sms")
    tab_to(page, "#f-params-template-create")
    page.keyboard.press("Enter")
    assert page.locator("#f-params-template").input_value() == f"{send_2}_text"
    wait_3 = add_next(page, "wait")
    type_into(page, "#f-params-days", "7")
    send_3 = add_next(page, "send")
    choose(page, "#f-params-channel", "email")
    choose(page, "#f-params-template", "reminder")
    tab_to(page, "#f-params-tone")
    choose(page, "#f-params-tone", "3")
    # tone 3 has no variant of its own: which one will go out is said at the step
    page.locator(".field-warning").get_by_text("tone 1").wait_for()
    wait_4 = add_next(page, "wait")
    type_into(page, "#f-params-days", "14")
    hook = add_next(page, "webhook")
    type_into(page, "#f-label", "Notify host")

    # Ctrl+S saves (the focus on a step, not in a text field).
    tab_to(page, ".drawflow-node[tabindex='0']", back=True)
    page.keyboard.press("Control+s")
    page.locator("#status").get_by_text("Draft version 1 saved").wait_for()
    saved = page.evaluate("fetch('/journeys/e2e-keys/v1/document').then((r) => r.json())")
    ids = [n["id"] for n in saved["nodes"]]
    assert len(ids) == 10, ids
    chain = ["start", wait_1, send_1, wait_2, send_2, wait_3, send_3, wait_4, hook, "end"]
    edges = {(e["from"], e["to"]) for e in saved["edges"]}
    assert edges == set(pairwise(chain)), edges
    assert saved["templates"][f"{send_2}_text"]["channel"] == "sms"
    # auto-placement: no two steps on top of each other
    spots = [(n["position"]["x"], n["position"]["y"]) for n in saved["nodes"]]
    for i, (x, y) in enumerate(spots):
        for x2, y2 in spots[i + 1 :]:
            assert abs(x - x2) >= 200 or abs(y - y2) >= 90, spots

    # Arrow keys move the focused step.
    before = page.evaluate(
        "window.mahnwerkCanvas.currentDocument().nodes.find((n) => n.id === 'end').position"
    )
    page.keyboard.press("PageDown")  # to the next step in order ...
    while page.evaluate("document.activeElement.querySelector('.node-id').textContent") != "end":
        page.keyboard.press("PageDown")
    page.keyboard.press("ArrowDown")
    after = page.evaluate(
        "window.mahnwerkCanvas.currentDocument().nodes.find((n) => n.id === 'end').position"
    )
    assert after["y"] == before["y"] + 20

    # Deleting a connected step says what went with it, and Ctrl+Z brings it all back.
    while page.evaluate("document.activeElement.querySelector('.node-id').textContent") != hook:
        page.keyboard.press("PageDown")
    page.keyboard.press("Delete")
    said = page.locator("#status").inner_text()
    assert "Notify host" in said and "Waiting →" not in said, said
    assert f"{wait_4} →" in said or "Wait →" in said, said
    assert "→ Closed" in said, said
    assert hook not in steps(page)
    page.keyboard.press("Control+z")
    assert hook in steps(page)
    assert {(wait_4, hook), (hook, "end")} <= {
        (e["from"], e["to"]) for e in page.evaluate("window.mahnwerkCanvas.currentDocument().edges")
    }
    assert_no_serious_axe_violations(page)
    assert not errors, errors


def test_one_output_one_wire_fit_minimap_and_zoom_label(page: Any, db: Database) -> None:
    store(db, "minimal", "e2e-wires")
    page.goto("/journeys/e2e-wires/v1")
    page.wait_for_function("window.mahnwerkCanvas !== undefined")
    nodes = page.evaluate("window.mahnwerkCanvas.currentDocument()")
    source = next(n["id"] for n in nodes["nodes"] if n["type"] == "start")
    old = next(e["to"] for e in nodes["edges"] if e["from"] == source)
    target = next(
        n["id"] for n in nodes["nodes"] if n["id"] not in (source, old) and n["type"] != "start"
    )

    def box(node_id: str, part: str) -> Any:
        return (
            page.locator(".drawflow-node")
            .filter(has=page.locator(".node-id", has_text=node_id))
            .first.locator(part)
            .bounding_box()
        )

    page.get_by_role("button", name="Auto-arrange").click()  # room between the steps
    page.locator("#status").get_by_text("Steps arranged").wait_for()
    out = box(source, ".outputs .output_1")
    inp = box(target, ".inputs .input_1")
    page.mouse.move(out["x"] + out["width"] / 2, out["y"] + out["height"] / 2)
    page.mouse.down()
    page.mouse.move(inp["x"] + inp["width"] / 2, inp["y"] + inp["height"] / 2, steps=12)
    page.mouse.up()
    edges = page.evaluate("window.mahnwerkCanvas.currentDocument().edges")
    from_source = [e["to"] for e in edges if e["from"] == source]
    assert from_source == [target], (from_source, page.locator("#status").inner_text())
    assert "old connection was removed" in page.locator("#status").inner_text()
    page.evaluate(f"window.mahnwerkCanvas.select({source!r})")
    picker = page.locator("#node-form select[data-port]").first
    assert picker.input_value() != ""  # the side panel shows the new target
    assert target in picker.locator("option:checked").inner_text()

    page.get_by_role("button", name="Fit to screen").click()
    label = page.locator("#btn-zoom-reset").inner_text()
    assert label.endswith(" %")
    page.get_by_role("button", name="Zoom in").click()
    assert page.locator("#btn-zoom-reset").inner_text() != label  # the label follows the zoom
    page.get_by_role("button", name="Fit to screen").click()
    assert page.locator("#minimap svg rect.mm-step").count() == len(nodes["nodes"])


def test_no_serious_accessibility_violations(page: Any, db: Database) -> None:
    store(db, "minimal", "e2e-axe")
    with db.transaction() as session:
        version = publish(session, example_doc("minimal") | {"key": "e2e-axe-live"}, utcnow())
        case = make_case(session, version, utcnow())
        case_id = case.id
    for url in (
        "/journeys",
        "/journeys/e2e-axe/v1",
        "/journeys/e2e-axe/v1/templates",
        "/cases",
        f"/cases/{case_id}",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        assert_no_serious_axe_violations(page)
