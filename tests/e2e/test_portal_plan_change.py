"""e2e in Chromium on a phone (390x844): agree a plan, change it, then cancel it; the journey
and the staff's timeline see both, and axe-core finds nothing serious on the way.

Uses the program as `mahnwerk serve` composes it (the fixtures of tests/e2e/test_portal_plan.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from engine import Runtime
from tests.e2e.axe import assert_no_serious_axe_violations
from tests.e2e.test_portal_payment import Shop, link_from_outbox
from tests.e2e.test_portal_plan import IBAN, _events, chromium, phone, shop, staff

__all__ = ["chromium", "phone", "shop", "staff"]  # the fixtures this module uses


def test_change_then_cancel_a_plan(staff: Any, phone: Any, shop: Shop) -> None:
    case_id = shop.sent_case("E2E-PLAN-CHANGE")
    phone.goto(link_from_outbox(staff, "E2E-PLAN-CHANGE"))
    phone.get_by_role("link", name="Agree a plan").click()
    phone.get_by_label("Number of instalments").select_option("3")
    phone.get_by_label("First instalment on").fill(
        (shop.clock.now + timedelta(days=7)).date().isoformat()
    )
    phone.get_by_label("Account holder").fill("Erika Mustermann")
    phone.get_by_label("IBAN").fill(IBAN)
    phone.get_by_role("button", name="Show the schedule").click()
    phone.get_by_role("button", name="Agree to this plan").click()
    assert phone.get_by_text("Thank you. Your instalment plan is agreed.").is_visible()
    assert_no_serious_axe_violations(phone)

    # A bonus: two instalments instead of three, the first today.
    phone.get_by_role("link", name="Change my plan").click()
    assert phone.get_by_role("heading", name="Change your instalment plan").is_visible()
    assert phone.get_by_label("Number of instalments").input_value() == "3"  # prefilled
    assert_no_serious_axe_violations(phone)
    phone.get_by_label("Number of instalments").select_option("2")
    phone.get_by_label("First instalment on").fill("2099-01-01")  # outside the limits
    phone.get_by_role("button", name="Show the new schedule").click()
    assert phone.get_by_label("First instalment on").get_attribute("aria-invalid") == "true"
    assert phone.get_by_text("Please choose a first date between").is_visible()
    assert_no_serious_axe_violations(phone)
    phone.get_by_label("First instalment on").fill(shop.clock.now.date().isoformat())
    phone.get_by_role("button", name="Show the new schedule").click()
    assert phone.get_by_role("heading", name="Your new schedule").is_visible()
    assert phone.get_by_role("cell", name="€125.00").count() == 2
    assert_no_serious_axe_violations(phone)
    phone.get_by_role("button", name="Replace my plan by this one").click()
    assert phone.get_by_text("Your instalment plan is changed.").is_visible()
    assert phone.get_by_role("cell", name="€125.00").count() == 2
    assert _events(shop, case_id, "plan_changed") == 1

    # A lost job: cancel it, after one more question.
    phone.get_by_role("link", name="Cancel my plan").click()
    assert phone.get_by_role("heading", name="Cancel your instalment plan").is_visible()
    assert_no_serious_axe_violations(phone)
    phone.get_by_role("button", name="Yes, cancel my plan").click()
    assert phone.get_by_text("Your instalment plan is cancelled.").is_visible()
    assert phone.get_by_role("button", name="Show the schedule").is_visible()  # a new plan
    assert_no_serious_axe_violations(phone)
    assert _events(shop, case_id, "plan_cancelled") == 1

    Runtime(shop.db).tick(shop.clock.now)
    staff.goto(f"/cases/{case_id}")
    assert staff.get_by_text("Instalment plan changed").first.is_visible()
    assert staff.get_by_text("Instalment plan cancelled").first.is_visible()
