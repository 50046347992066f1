"""End-to-end fixtures: the real designer on a free port, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from designer import create_app
from engine import Database, add_user, utcnow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER = ("manager@example.org", "correct-horse-battery")
ADMIN = ("admin@example.org", "correct-horse-battery")
REVIEWER = ("reviewer@example.org", "correct-horse-battery")


def _need_chromium() -> None:
    """Fail in CI, skip elsewhere, when Debian's Chromium is not installed."""
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install -y chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The end-to-end database: a SQLite file with a manager, an admin and a reviewer."""
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'designer.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, USER[0], USER[1], "manager", utcnow())
        add_user(session, ADMIN[0], ADMIN[1], "admin", utcnow())
        add_user(session, REVIEWER[0], REVIEWER[1], "reviewer", utcnow())
    db.dispose()
    return url


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[str]:
    """The real app (CSRF on) on 127.0.0.1 and a free port, in a thread; yields its base URL."""
    _need_chromium()
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "e2e-secret"})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser(server: str) -> Iterator[Any]:
    """Chromium from Debian, driven by Playwright (never `playwright install`)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _signed_in(browser: Any, server: str, user: tuple[str, str]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=server)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto("/login")
    page.get_by_label("Email").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/journeys")
    yield page
    context.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser tab with a large window, signed in as a manager."""
    yield from _signed_in(browser, server, USER)


@pytest.fixture
def admin_page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser tab with a large window, signed in as an admin."""
    yield from _signed_in(browser, server, ADMIN)


@pytest.fixture
def reviewer_page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh browser tab with a large window, signed in as a reviewer."""
    yield from _signed_in(browser, server, REVIEWER)
