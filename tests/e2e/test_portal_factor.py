"""The second factor's page in Chromium on a phone (390x844): axe-core clean in English and
German, a wrong answer marked, a right one opening the case."""

from __future__ import annotations

from typing import Any

import pytest

from engine.access.portal_links import portal_url
from tests.e2e import test_portal_payment as paying
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_portal_payment import SECRET, Shop
from tests.factories import make_case, publish
from tests.portal.test_factor import factor_doc

# The paying test's running program, browser and phone, shared (module-scoped per module).
shop, chromium, phone = paying.shop, paying.chromium, paying.phone


def _link(shop: Shop, external_id: str, locale: str) -> str:
    with shop.db.transaction() as session:
        version = publish(session, factor_doc("postcode"), shop.clock.now)
        case = make_case(
            session,
            version,
            shop.clock.now,
            external_id=external_id,
            locale=locale,
            street="Hauptstr. 1",
            postcode="10115",
            reference=f"R-{external_id}",
        )
        return portal_url(case, shop.clock.now, f"{shop.base}/p", SECRET)


@pytest.mark.parametrize(
    ("locale", "question", "go_on"),
    [("en-GB", "Your postcode", "Continue"), ("de-DE", "Ihre Postleitzahl", "Weiter")],
)
def test_the_factor_page_is_accessible_and_opens_the_case(
    phone: Any, shop: Shop, locale: str, question: str, go_on: str
) -> None:
    external_id = f"E2E-FACTOR-{locale}"
    phone.goto(_link(shop, external_id, locale))
    assert phone.locator("html").get_attribute("lang").startswith(locale[:2])
    assert phone.get_by_text(f"R-{external_id}").count() == 0
    assert_no_serious_axe_violations(phone)

    phone.get_by_label(question, exact=True).fill("99999")
    phone.get_by_role("button", name=go_on, exact=True).click()
    phone.wait_for_load_state()
    assert phone.locator("[aria-invalid=true]").count() == 1
    assert_no_serious_axe_violations(phone)

    phone.get_by_label(question, exact=True).fill("101 15")
    phone.get_by_role("button", name=go_on, exact=True).click()
    phone.wait_for_load_state()
    assert phone.get_by_text(f"R-{external_id}").is_visible()
