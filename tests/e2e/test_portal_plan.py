"""e2e in Chromium on a phone (390x844): agree an instalment plan, miss an instalment, and see
the journey take its branch.

The whole program runs on 127.0.0.1 as `mahnwerk serve` composes it, with a journey that offers
plans (tests/engine/payments/conftest.py `plan_doc`). A manager reads the sent message in the
outbox; the debtor opens its link on a phone, chooses 3 instalments and a first date, enters a
SEPA mandate, sees the schedule and agrees (axe-core finds nothing serious on the way). The
clock then runs past the first instalment's date and grace days without a payment: the
scheduler's plan job records `instalment_missed`, the tick takes the wait's branch and sends
the firmer reminder, and the case page's timeline shows it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import (
    Database,
    PaymentProviders,
    Runtime,
    VirtualClock,
    add_user,
    check_plans,
)
from engine.storage.models import EventRow
from mahnwerk.wsgi import create_app
from tests.conftest import MONDAY
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.conftest import USER, _need_chromium
from tests.e2e.test_portal_payment import PHONE, SECRET, Shop, link_from_outbox
from tests.engine.payments.conftest import plan_doc

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    _need_chromium()
    folder = tmp_path_factory.mktemp("e2e-plan")
    url = f"sqlite:///{folder / 'plan.sqlite3'}"
    clock = VirtualClock(MONDAY)
    db = Database(url)
    db.create_all()
    from tests.factories import publish

    with db.transaction() as session:
        add_user(session, USER[0], USER[1], "manager", clock.now)
        publish(session, plan_doc(), clock.now)
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


def _events(shop: Shop, case_id: int, kind: str) -> int:
    with shop.db.transaction() as session:
        rows = session.scalars(
            select(EventRow.id).where(EventRow.case_id == case_id, EventRow.type == kind)
        )
        return len(rows.all())


def test_agree_a_plan_miss_an_instalment_and_the_journey_branches(
    staff: Any, phone: Any, shop: Shop
) -> None:
    case_id = shop.sent_case("E2E-PLAN-1")
    phone.goto(link_from_outbox(staff, "E2E-PLAN-1"))
    phone.get_by_role("link", name="Agree a plan").click()
    assert phone.get_by_role("heading", name="Pay in instalments").is_visible()
    assert_no_serious_axe_violations(phone)

    first = (shop.clock.now + timedelta(days=7)).date()
    phone.get_by_label("Number of instalments").select_option("3")
    phone.get_by_label("First instalment on").fill(first.isoformat())
    phone.get_by_label("Account holder").fill("Erika Mustermann")
    # A typo in the IBAN first: the field is named and described, nothing is stored.
    phone.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 01")
    phone.get_by_role("button", name="Show the schedule").click()
    assert phone.get_by_text("check digits do not match").is_visible()
    assert phone.get_by_label("IBAN").get_attribute("aria-invalid") == "true"
    assert_no_serious_axe_violations(phone)

    phone.get_by_label("IBAN").fill(IBAN)
    phone.get_by_role("button", name="Show the schedule").click()
    assert phone.get_by_role("heading", name="Your schedule").is_visible()
    assert phone.get_by_role("cell", name="€83.34").is_visible()
    assert phone.get_by_role("cell", name="€83.33").count() == 2
    assert_no_serious_axe_violations(phone)
    phone.get_by_role("button", name="Agree to this plan").click()
    assert phone.get_by_text("Thank you. Your instalment plan is agreed.").is_visible()
    assert phone.get_by_text("DE89 **** 3000").is_visible()
    assert _events(shop, case_id, "plan_agreed") == 1

    Runtime(shop.db).tick(shop.clock.now)
    assert shop.case(case_id).node_id == "plan"
    assert shop.messages(case_id) == 1

    # Past the first date and its 3 grace days without a payment: missed, once.
    shop.clock.advance(timedelta(days=7 + 4))
    for _ in range(2):
        with shop.db.transaction() as session:
            check_plans(session, shop.clock.now)
    assert _events(shop, case_id, "instalment_missed") == 1
    Runtime(shop.db).tick(shop.clock.now)
    assert shop.case(case_id).node_id == "plan"  # by 'missed', waiting for the next one
    from engine import SandboxDispatcher

    dispatcher = SandboxDispatcher(shop.db, portal_base_url=f"{shop.base}/p", link_secret=SECRET)
    try:
        dispatcher.dispatch(shop.clock.now)
    finally:
        dispatcher.close()
    assert shop.messages(case_id) == 2  # the firmer reminder of the 'instalment_missed' branch

    staff.goto(f"/cases/{case_id}")
    assert staff.get_by_text("Instalment missed").first.is_visible()
    assert staff.get_by_text("Instalment plan agreed").first.is_visible()
    phone.reload()
    assert phone.get_by_role("cell", name="Missed").is_visible()
