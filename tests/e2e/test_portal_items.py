"""e2e in Chromium on a phone: a person with three invoices ticks two and pays them at once.

The debtor opens the link of one invoice, sees all three (that one marked), ticks a second
with the keyboard, sees the total follow (the portal's own script under its strict CSP), pays
on the sandbox's hosted page, and after the tick both invoices are closed and the third is
open. axe-core checks the page in English and German, also with a field error shown.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from engine import Runtime
from engine.access.portal_links import portal_url
from engine.storage.models import VersionRow
from tests.e2e import test_portal_payment as paying
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_portal_payment import SECRET, Shop
from tests.factories import make_case

# The paying test's running program, browser and phone, shared (module-scoped per module).
shop, chromium, phone = paying.shop, paying.chromium, paying.phone


def _person(shop: Shop, prefix: str, locale: str) -> tuple[str, dict[str, int]]:
    """Three invoices of one person; the link of the newest (due in March)."""
    ids = {}
    with shop.db.transaction() as session:
        version = session.scalar(select(VersionRow).where(VersionRow.status == "published"))
        for name, due, amount in (
            ("MAR", "2026-03-02", "100.00"),
            ("JAN", "2026-01-05", "40.00"),
            ("FEB", "2026-02-03", "60.00"),
        ):
            case = make_case(
                session, version, shop.clock.now, external_id=f"{prefix}-{name}",
                reference=f"{prefix}-{name}", due_date=due, amount=amount,
                debtor_id=f"{prefix}-CUST", locale=locale,
            )  # fmt: skip
            ids[name] = case.id
            if name == "MAR":
                link = portal_url(case, shop.clock.now, f"{shop.base}/p", SECRET)
    return link, ids


def test_tick_two_invoices_and_pay_them_in_one_checkout(phone: Any, shop: Shop) -> None:
    link, ids = _person(shop, "E2E-ITEMS", "en-GB")
    phone.goto(link)
    assert phone.get_by_role("heading", name="All your open invoices").is_visible()
    assert phone.locator("tr[aria-current=true]").inner_text().startswith("E2E-ITEMS-MAR")
    total = phone.locator("#items-total")
    assert total.inner_text() == "€100.00"
    assert_no_serious_axe_violations(phone)

    # The keyboard alone: focus the January invoice's box and tick it with the space bar.
    january = phone.get_by_label(re.compile(r"^E2E-ITEMS-JAN: €40\.00"))
    january.focus()
    phone.keyboard.press("Space")
    assert january.is_checked()
    phone.wait_for_function("document.getElementById('items-total').textContent === '€140.00'")
    assert_no_serious_axe_violations(phone)

    phone.get_by_role("button", name="Pay the chosen invoices").click()
    phone.wait_for_url("**/p/sandbox/checkout/sbx_*")
    assert phone.get_by_role("heading", name="Pay €140.00").is_visible()
    phone.get_by_role("button", name="Pay", exact=True).click()
    phone.wait_for_url(re.compile(r".*/payment/\d+$"))
    assert phone.get_by_role("heading", name=re.compile("your payment has arrived")).is_visible()

    Runtime(shop.db).tick(shop.clock.now)
    assert (shop.case(ids["MAR"]).status, shop.case(ids["MAR"]).outcome) == ("closed", "paid")
    assert (shop.case(ids["JAN"]).status, shop.case(ids["JAN"]).outcome) == ("closed", "paid")
    assert shop.case(ids["FEB"]).status == "active"


@pytest.mark.parametrize(
    ("locale", "title", "error"),
    [
        ("en-GB", "All your open invoices", "please choose at least one invoice"),
        ("de-DE", "Alle Ihre offenen Rechnungen", "mindestens eine Rechnung"),
    ],
)
def test_the_form_with_an_error_has_no_serious_axe_violations(
    phone: Any, shop: Shop, locale: str, title: str, error: str
) -> None:
    link, _ids = _person(shop, f"E2E-ITEMS-{locale}", locale)
    phone.goto(link)
    assert phone.get_by_role("heading", name=title).is_visible()
    assert_no_serious_axe_violations(phone)
    form = phone.locator("#items-form")
    form.locator("input[name=item]:checked").uncheck()
    form.locator("button[type=submit]").click()
    phone.wait_for_load_state()
    assert error in phone.locator("#item-error").inner_text()
    assert form.locator("fieldset[aria-invalid=true]").count() == 1
    assert_no_serious_axe_violations(phone)
