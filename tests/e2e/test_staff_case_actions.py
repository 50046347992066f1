"""e2e in Chromium: a collector has the debtor on the phone, records a promise and then a
payment on the case page; the tick applies both, the case closes as paid and the journey stops.

The whole program (designer, API and portal composed as `mahnwerk serve` composes them) runs on
127.0.0.1 with a virtual clock shared by the designer's forms and the runtime.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from engine import Database, Runtime, SandboxDispatcher, VirtualClock, add_user
from engine.storage.models import CaseRow, VersionRow
from mahnwerk.wsgi import create_app
from tests.conftest import MONDAY
from tests.e2e.conftest import _need_chromium
from tests.factories import make_case, outbox_rows, publish
from tests.portal.conftest import waiting_doc

COLLECTOR = ("collector@example.org", "correct-horse-battery")
SECRET = "e2e-staff-secret"


class Office:
    """The running program, its database and clock."""

    def __init__(self, base: str, db: Database, clock: VirtualClock) -> None:
        self.base, self.db, self.clock = base, db, clock

    def tick(self) -> None:
        """The scheduler's work: apply events, take steps, send what is due."""
        Runtime(self.db).tick(self.clock.now)
        dispatcher = SandboxDispatcher(
            self.db, portal_base_url=f"{self.base}/p", link_secret=SECRET
        )
        try:
            dispatcher.dispatch(self.clock.now)
        finally:
            dispatcher.close()

    def case(self, case_id: int) -> CaseRow:
        with self.db.transaction() as session:
            row = session.get(CaseRow, case_id)
            session.expunge(row)
            return row

    def messages(self, case_id: int) -> int:
        with self.db.transaction() as session:
            return len(outbox_rows(session, case_id))


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    _need_chromium()
    folder = tmp_path_factory.mktemp("e2e-staff")
    url = f"sqlite:///{folder / 'staff.sqlite3'}"
    clock = VirtualClock(MONDAY + timedelta(hours=2))
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, COLLECTOR[0], COLLECTOR[1], "collector", clock.now)
        publish(session, waiting_doc(), clock.now)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "PORTAL_CLOCK": lambda: clock.now,
            "CASE_ACTIONS_CLOCK": lambda: clock.now,
        }
    )
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Office(f"http://127.0.0.1:{httpd.server_port}", db, clock)
    httpd.shutdown()
    thread.join(timeout=5)
    db.dispose()


@pytest.fixture
def collector(browser: Any, office: Office) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, base_url=office.base)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto("/login")
    page.get_by_label("Email").fill(COLLECTOR[0])
    page.get_by_label("Password").fill(COLLECTOR[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/journeys")
    yield page
    context.close()


def test_a_collector_records_a_promise_then_a_payment_and_the_journey_stops(
    collector: Any, office: Office
) -> None:
    with office.db.transaction() as session:
        version = session.scalar(select(VersionRow).where(VersionRow.status == "published"))
        case_id = make_case(
            session,
            version,
            office.clock.now,
            external_id="E2E-PHONE",
            amount="250.00",
            locale="en-GB",
        ).id
    office.tick()
    assert office.case(case_id).node_id == "answer"  # reminded, waiting for a promise
    sent = office.messages(case_id)

    # On the phone: "I will pay on Friday."
    collector.goto(f"/cases/{case_id}")
    collector.get_by_text("Record a promise to pay", exact=True).click()
    friday = (office.clock.now + timedelta(days=4)).date().isoformat()
    collector.get_by_label("Promised date", exact=True).fill(friday)
    collector.get_by_role("button", name="Record the promise", exact=True).click()
    collector.wait_for_url(f"**/cases/{case_id}")
    assert collector.get_by_text("Recorded. The journey reacts at its next step.").is_visible()
    office.tick()
    case = office.case(case_id)
    assert case.node_id == "promise" and case.promise_date.isoformat() == friday

    # Friday: the money came by bank transfer; the collector books it with the keyboard only.
    office.clock.advance(timedelta(days=4))
    collector.goto(f"/cases/{case_id}")
    summary = collector.get_by_text("Record a payment", exact=True)
    summary.focus()
    collector.keyboard.press("Enter")
    collector.get_by_label("Amount (EUR)", exact=True).fill("250.00")
    collector.get_by_label("Reference", exact=True).fill("Bank 2026-03-06")
    collector.get_by_label("Reference", exact=True).press("Enter")
    collector.wait_for_url(f"**/cases/{case_id}")
    office.tick()

    case = office.case(case_id)
    assert (case.status, case.outcome, case.amount_open) == ("closed", "paid", 0)
    collector.goto(f"/cases/{case_id}")
    assert collector.get_by_text(
        "This case is closed: nothing more can be recorded on it."
    ).is_visible()
    assert collector.get_by_text("recorded by collector@example.org").count() == 2
    assert collector.get_by_role("button", name="Record the payment").count() == 0

    # The journey has stopped: a month on, nothing more is sent.
    office.clock.advance(timedelta(days=30))
    office.tick()
    assert office.messages(case_id) == sent
