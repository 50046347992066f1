"""axe-core on the debtor's pages in Chromium on a phone (390x844), in English and German.

The case page (what is owed, pay now, the promise, dispute, callback and contact forms), a
form answered with its errors, the sandbox's hosted checkout and the page the debtor comes back
to: no serious or critical WCAG 2.1 A/AA violation, with the portal's strict CSP left on.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from engine.access.portal_links import portal_url
from engine.storage.models import VersionRow
from tests.e2e import test_portal_payment as paying
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_portal_payment import SECRET, Shop
from tests.factories import make_case

# The paying test's running program, browser and phone, shared (module-scoped per module).
shop, chromium, phone = paying.shop, paying.chromium, paying.phone


def _link(shop: Shop, external_id: str, locale: str) -> str:
    with shop.db.transaction() as session:
        version = session.scalar(select(VersionRow).where(VersionRow.status == "published"))
        case = make_case(session, version, shop.clock.now, external_id=external_id, locale=locale)
        return portal_url(case, shop.clock.now, f"{shop.base}/p", SECRET)


@pytest.mark.parametrize(("locale", "pay_now"), [("en-GB", "Pay now"), ("de-DE", "Jetzt bezahlen")])
def test_the_debtors_pages_have_no_serious_axe_violations(
    phone: Any, shop: Shop, locale: str, pay_now: str
) -> None:
    phone.goto(_link(shop, f"E2E-AXE-{locale}", locale))
    assert phone.locator("html").get_attribute("lang").startswith(locale[:2])
    assert phone.get_by_role("heading", name=pay_now).is_visible()
    assert_no_serious_axe_violations(phone)  # the case page with every form

    # A form answered with its errors: the promise without a date (the browser's own check off).
    promise = phone.locator("form[action$='/promise']")
    promise.evaluate("f => { f.noValidate = true; }")
    promise.locator("input[name=promise_date]").fill("")
    promise.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert phone.locator("[aria-invalid=true]").count() >= 1
    assert_no_serious_axe_violations(phone)

    # Pay: the sandbox's hosted page, then the page the debtor comes back to.
    phone.locator("form[action$='/pay'] button[type=submit]").click()
    phone.wait_for_url("**/p/sandbox/checkout/sbx_*")
    assert_no_serious_axe_violations(phone)
    phone.locator("form button[type=submit]").first.click()
    phone.wait_for_url(re.compile(r".*/payment/\d+$"))
    assert phone.locator("html").get_attribute("lang").startswith(locale[:2])
    assert_no_serious_axe_violations(phone)
