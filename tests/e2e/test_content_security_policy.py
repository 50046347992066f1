"""The designer and the API's Swagger UI work in Chromium under their Content-Security-Policy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from engine import Database, add_user, utcnow
from mahnwerk.wsgi import create_app
from tests.e2e.conftest import USER

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[str]:
    """The composed program (designer and API) as `mahnwerk serve` runs it, on its own database
    (the other e2e tests expect theirs to start without journeys), on a free port."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e-csp') / 'program.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, USER[0], USER[1], "manager", utcnow())
    db.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "e2e-csp-" + "k" * 40})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


def _watched(browser: Any, base_url: str) -> tuple[Any, Any, list[str]]:
    """A signed-in tab and the CSP violations its pages report."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=base_url)
    page = context.new_page()
    page.set_default_timeout(15000)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto("/login")
    page.get_by_label("Email").fill(USER[0])
    page.get_by_label("Password").fill(USER[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/journeys")
    return context, page, refused


def test_swagger_ui_renders_under_the_docs_page_csp(browser: Any, program: str) -> None:
    context, page, refused = _watched(browser, program)
    try:
        page.goto("/api/v1/docs")
        page.locator(".swagger-ui .info .title").wait_for()
        assert "Mahnwerk host-system API" in page.locator(".swagger-ui .info .title").inner_text()
        page.locator(".opblock-tag-section").first.wait_for()
        assert refused == []
    finally:
        context.close()


def test_the_journey_editor_runs_without_csp_violations(browser: Any, program: str) -> None:
    context, page, refused = _watched(browser, program)
    try:
        page.get_by_label("Name").last.fill("CSP check")
        page.get_by_label("Key", exact=True).fill("csp")
        page.get_by_role("button", name="Create").click()
        page.wait_for_url("**/journeys/csp/v1")
        page.locator(".drawflow-node").first.wait_for()
        page.locator("#node-form").evaluate("form => form.requestSubmit()")  # stays on the page
        assert page.url.endswith("/journeys/csp/v1")
        assert refused == []
    finally:
        context.close()
