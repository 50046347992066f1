"""e2e in Chromium on a phone: from the outbox's message to the portal, paid with the sandbox.

The whole program (designer, API and portal composed as `mahnwerk serve` composes them) runs on
127.0.0.1; a manager reads the sent message in the outbox, the debtor opens its portal link on
a 390x844 viewport, pays on the sandbox's hosted page and comes back to "paid"; the tick closes
the case and the journey sends nothing more. A failed payment shows a clear page and leaves the
case open.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, PaymentProviders, Runtime, SandboxDispatcher, VirtualClock, add_user
from engine.storage.models import CaseRow, VersionRow
from mahnwerk.wsgi import create_app
from tests.conftest import MONDAY
from tests.e2e.conftest import USER, _need_chromium
from tests.engine.payments.conftest import paying_doc
from tests.factories import make_case, outbox_rows, publish

SECRET = "e2e-portal-secret"
PHONE = {"width": 390, "height": 844}


class Shop:
    """The running program, its database, clock and sandbox provider."""

    def __init__(self, base: str, db: Database, clock: VirtualClock, sandbox: Any) -> None:
        self.base, self.db, self.clock, self.sandbox = base, db, clock, sandbox

    def sent_case(self, external_id: str) -> int:
        """A case whose first reminder went out through the sandbox dispatcher."""
        with self.db.transaction() as session:
            version = session.scalar(select(VersionRow).where(VersionRow.status == "published"))
            case_id = make_case(
                session, version, self.clock.now, external_id=external_id, locale="en-GB"
            ).id
        Runtime(self.db).tick(self.clock.now)
        dispatcher = SandboxDispatcher(
            self.db, portal_base_url=f"{self.base}/p", link_secret=SECRET
        )
        try:
            dispatcher.dispatch(self.clock.now)
        finally:
            dispatcher.close()
        return case_id

    def case(self, case_id: int) -> Any:
        with self.db.transaction() as session:
            row = session.get(CaseRow, case_id)
            session.expunge(row)
            return row

    def messages(self, case_id: int) -> int:
        with self.db.transaction() as session:
            return len(outbox_rows(session, case_id))


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    _need_chromium()
    folder = tmp_path_factory.mktemp("e2e-pay")
    url = f"sqlite:///{folder / 'pay.sqlite3'}"
    clock = VirtualClock(MONDAY)
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        add_user(session, USER[0], USER[1], "manager", clock.now)
        publish(session, paying_doc(methods=["card", "sepa_debit"]), clock.now)
    sandbox = SandboxPaymentProvider(folder / "sandbox", "whsec-e2e", "http://unset")
    registry = PaymentProviders({})
    registry.add("sandbox", sandbox)
    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "PORTAL_CLOCK": lambda: clock.now,
            "PAYMENT_PROVIDERS": registry,
            "PAYMENTS_PROCESS": "inline",
        }
    )
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{httpd.server_port}"
    sandbox.checkout_url = f"{base}/p/sandbox/checkout"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Shop(base, db, clock, sandbox)
    httpd.shutdown()
    thread.join(timeout=5)
    db.dispose()


@pytest.fixture(scope="module")
def chromium(browser: Any, shop: Shop) -> Any:
    """The session's Chromium: one sync Playwright per process (a second one would run inside
    the first one's event loop); this module's pages open on the shop's own server."""
    return browser


@pytest.fixture
def staff(chromium: Any, shop: Shop) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=shop.base)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto("/login")
    page.get_by_label("Email").fill(USER[0])
    page.get_by_label("Password").fill(USER[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/journeys")
    yield page
    context.close()


@pytest.fixture
def phone(chromium: Any, shop: Shop) -> Iterator[Any]:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def link_from_outbox(staff: Any, external_id: str) -> str:
    """The portal link as the manager reads it in the sent message in the outbox."""
    staff.goto("/outbox")
    item = staff.locator("li.card", has_text=external_id).first
    found = re.search(r"http://127\.0\.0\.1:\d+/p/[A-Za-z0-9._-]+", item.inner_text())
    assert found, item.inner_text()
    return found.group(0)


def test_pay_with_the_sandbox_and_the_journey_stops(staff: Any, phone: Any, shop: Shop) -> None:
    case_id = shop.sent_case("E2E-PAY-1")
    link = link_from_outbox(staff, "E2E-PAY-1")
    phone.goto(link)
    assert phone.get_by_role("heading", name="Pay now").is_visible()
    phone.get_by_label("SEPA direct debit").check()
    phone.get_by_role("button", name="Pay €250.00 now").click()
    phone.wait_for_url("**/p/sandbox/checkout/sbx_*")
    assert phone.get_by_text("Sandbox — no real money").first.is_visible()
    assert phone.get_by_role("heading", name="Pay €250.00").is_visible()
    phone.get_by_role("button", name="Pay", exact=True).click()
    phone.wait_for_url(re.compile(r".*/payment/\d+$"))
    assert phone.get_by_role("heading", name=re.compile("your payment has arrived")).is_visible()
    # The scheduler's tick applies the payment: the case closes as paid.
    Runtime(shop.db).tick(shop.clock.now)
    closed = shop.case(case_id)
    assert (closed.status, closed.outcome, closed.amount_open) == ("closed", "paid", 0)
    staff.goto(f"/cases/{case_id}")
    assert staff.locator("h1 .status-closed").is_visible()
    # The journey stops: its second reminder (after 14 days) never comes. (Three weeks on:
    # a Monday again, so the next test's message is not held back over a Sunday.)
    Runtime(shop.db).tick(shop.clock.advance(timedelta(days=21)))
    assert shop.messages(case_id) == 1
    # The link of a closed case opens nothing of it any more.
    phone.goto(link)
    assert phone.get_by_role("heading", name="This case is closed").is_visible()
    assert len(shop.sandbox.payments()) == 1


def test_a_failed_payment_shows_a_clear_page(staff: Any, phone: Any, shop: Shop) -> None:
    case_id = shop.sent_case("E2E-FAIL-1")
    phone.goto(link_from_outbox(staff, "E2E-FAIL-1"))
    phone.get_by_role("button", name=re.compile(r"Pay .* now")).click()
    phone.wait_for_url("**/p/sandbox/checkout/sbx_*")
    phone.get_by_role("button", name="Fail").click()
    phone.wait_for_url(re.compile(r".*/payment/\d+$"))
    assert phone.get_by_role("heading", name="The payment did not go through").is_visible()
    assert phone.get_by_text("Nothing was charged").is_visible()
    phone.get_by_role("link", name="Back to your case").click()
    assert phone.get_by_role("heading", name="Pay now").is_visible()
    assert shop.case(case_id).status == "active"


def test_dispute_and_contact_stops(staff: Any, phone: Any, shop: Shop) -> None:
    """Issue 11: the debtor disputes from the message's link; the journey sends nothing more."""
    case_id = shop.sent_case("E2E-DISPUTE-1")
    phone.goto(link_from_outbox(staff, "E2E-DISPUTE-1"))
    phone.get_by_label("Reason").select_option(label="The amount is wrong")
    phone.get_by_label("What should we know? (optional)").fill("I returned one item.")
    phone.get_by_role("button", name="Send the dispute").click()
    assert phone.get_by_text("Thank you. We have received your message.").is_visible()
    # The tick applies the dispute: the case is held, and the page says why.
    Runtime(shop.db).tick(shop.clock.now)
    held = shop.case(case_id)
    assert (held.status, held.hold_reason) == ("held", "dispute")
    phone.reload()
    assert phone.get_by_text("You have disputed this claim.").is_visible()
    # Three weeks of ticks and dispatches: the second reminder (after 14 days) never goes out.
    for _ in range(21):
        Runtime(shop.db).tick(shop.clock.advance(timedelta(days=1)))
        dispatcher = SandboxDispatcher(
            shop.db, portal_base_url=f"{shop.base}/p", link_secret=SECRET
        )
        try:
            dispatcher.dispatch(shop.clock.now)
        finally:
            dispatcher.close()
    assert shop.messages(case_id) == 1
    # Staff see the dispute on the case page.
    staff.goto(f"/cases/{case_id}")
    assert staff.get_by_text("dispute").first.is_visible()
