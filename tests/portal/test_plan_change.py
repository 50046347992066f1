"""Change or cancel a plan on the portal, without script: a prefilled form, the new schedule shown
before confirming, a double submit storing one change, stale, foreign and out-of-limit forms
answered 409 or 422 with the field named, a plan the provider schedules left to the creditor."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from engine import Database, VirtualClock
from engine.storage.models import EventRow, PaymentPlanRow, PlanInstalmentRow, VersionRow
from tests.engine.payments.conftest import plan_doc
from tests.factories import publish
from tests.portal.conftest import case_of, form_values, sent_link

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def plan_version(db: Database, clock: VirtualClock) -> VersionRow:
    with db.transaction() as session:
        return publish(session, plan_doc(), clock.now)


def agreed(
    db: Database,
    clock: VirtualClock,
    version: VersionRow,
    client: FlaskClient,
    ext: str,
    **case: Any,
) -> str:
    """A case whose debtor agreed 3 instalments of €250.00 on the portal: its link."""
    link = sent_link(db, clock, version, external_id=ext, locale="en-GB", **case)
    hidden = form_values(client.get(f"{link}/plan").get_data(as_text=True), "plan")
    first = (clock.now + timedelta(days=7)).date().isoformat()
    choice = {"instalments": "3", "first_date": first, "account_holder": "Erika Muster"}
    data = {**hidden, **choice, "iban": IBAN, "step": "confirm"}
    assert client.post(f"{link}/plan", data=data).status_code == 303
    return link


def change_form(client: FlaskClient, link: str, page: str = "change") -> dict[str, str]:
    """The hidden fields of the change (or cancel) form: csrf_token, once and the plan."""
    html = client.get(f"{link}/plan/{page}").get_data(as_text=True)
    found = re.search(r'name="plan" value="(\d+)"', html)
    assert found, html
    return {**form_values(html, page), "plan": found.group(1)}


def plans(db: Database, ext: str) -> list[tuple[int, str, int]]:
    case_id = case_of(db, ext).id
    with db.transaction() as session:
        rows = session.scalars(
            select(PaymentPlanRow)
            .where(PaymentPlanRow.case_id == case_id)
            .order_by(PaymentPlanRow.id)
        ).all()
        return [(r.id, r.status, r.total_minor) for r in rows]


def kinds(db: Database, ext: str) -> list[str]:
    case_id = case_of(db, ext).id
    with db.transaction() as session:
        return list(session.scalars(select(EventRow.type).where(EventRow.case_id == case_id)))


def test_change_preview_then_confirm_replaces_the_plan_once(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = agreed(db, clock, plan_version, client, "PC-1")
    page = client.get(f"{link}/plan").get_data(as_text=True)
    assert "Change my plan" in page and f'href="{link}/plan/change"' in page
    assert f'href="{link}/plan/cancel"' in page
    assert "change it or cancel it" in client.get(link).get_data(as_text=True)
    form_page = client.get(f"{link}/plan/change").get_data(as_text=True)
    assert '<option value="3" selected>' in form_page  # prefilled: the instalments still open
    assert (clock.now + timedelta(days=7)).date().isoformat() in form_page  # the next date
    data = {
        **change_form(client, link),
        "instalments": "5",
        "first_date": clock.now.date().isoformat(),
    }
    preview = client.post(f"{link}/plan/change", data={**data, "step": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and html.count("€50.00") == 5
    assert "Replace my plan by this one" in html
    assert [p[1] for p in plans(db, "PC-1")] == ["active"]  # nothing changed by a preview
    first = client.post(f"{link}/plan/change", data={**data, "step": "confirm"})
    second = client.post(f"{link}/plan/change", data={**data, "step": "confirm"})  # twice
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"].endswith("/plan?changed=1")
    (old_id, old, _), (new_id, new, total) = plans(db, "PC-1")
    assert (old, new, total) == ("replaced", "active", 25000)
    assert kinds(db, "PC-1").count("plan_changed") == 1
    with db.transaction() as session:
        statuses = session.scalars(
            select(PlanInstalmentRow.status).where(PlanInstalmentRow.plan_id == old_id)
        ).all()
        mandate = session.get(PaymentPlanRow, new_id).iban_masked  # type: ignore[union-attr]
    assert set(statuses) == {"cancelled"} and mandate == "DE89 **** 3000"
    shown = client.get(f"{link}/plan?changed=1").get_data(as_text=True)
    assert "Your instalment plan is changed" in shown and shown.count("€50.00") == 5


def test_cancel_asks_then_cancels_once_and_offers_a_new_plan(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = agreed(db, clock, plan_version, client, "PC-2")
    ask = client.get(f"{link}/plan/cancel").get_data(as_text=True)
    assert "Yes, cancel my plan" in ask and "€250.00" in ask
    data = change_form(client, link, "cancel")
    first = client.post(f"{link}/plan/cancel", data=data)
    second = client.post(f"{link}/plan/cancel", data=data)  # a double submit
    assert first.status_code == second.status_code == 303
    assert [p[1] for p in plans(db, "PC-2")] == ["cancelled"]
    assert kinds(db, "PC-2").count("plan_cancelled") == 1
    page = client.get(f"{link}/plan?cancelled=1").get_data(as_text=True)
    assert "Your instalment plan is cancelled" in page and 'for="instalments"' in page
    assert "Change my plan" not in page
    gone = client.get(f"{link}/plan/change").get_data(as_text=True)
    assert "no active instalment plan" in gone and 'name="step"' not in gone


@pytest.mark.parametrize(
    ("fields", "status", "field", "words"),
    [
        ({"instalments": "7"}, 422, "instalments", "between 2 and 6"),
        ({"instalments": "x"}, 422, "instalments", "number of instalments"),
        ({"first_date": "2099-01-01"}, 422, "first_date", "first date between"),
        ({"first_date": "<b>soon</b>"}, 422, "first_date", "YYYY-MM-DD"),
        ({"plan": "abc"}, 422, "plan", "does not name your instalment plan"),
        ({"plan": "999999"}, 422, "plan", "does not name your instalment plan"),
        ({"once": "x"}, 400, "plan", "incomplete"),
    ],
)
@pytest.mark.parametrize("step", ["preview", "confirm"])
def test_hostile_change_forms_name_the_field(
    db: Database,
    clock: VirtualClock,
    plan_version: VersionRow,
    client: FlaskClient,
    fields: dict[str, str],
    status: int,
    field: str,
    words: str,
    step: str,
) -> None:
    link = agreed(db, clock, plan_version, client, "PC-H")
    first = clock.now.date().isoformat()
    data = {**change_form(client, link), "instalments": "2", "first_date": first, **fields}
    answer = client.post(f"{link}/plan/change", data={**data, "step": step})
    html = answer.get_data(as_text=True)
    assert answer.status_code == status and f'id="{field}-error"' in html and words in html
    assert "<b>soon</b>" not in html
    assert [p[1] for p in plans(db, "PC-H")] == ["active"]


def test_a_stale_form_and_another_case_s_plan(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = agreed(db, clock, plan_version, client, "PC-S")
    stale_change = change_form(client, link)
    stale_cancel = change_form(client, link, "cancel")
    choice = {"instalments": "2", "first_date": clock.now.date().isoformat()}
    done = client.post(f"{link}/plan/change", data={**stale_change, **choice, "step": "confirm"})
    assert done.status_code == 303
    # The other forms were made for the plan that was just replaced.
    fresh = form_values(client.get(f"{link}/plan/change").get_data(as_text=True), "change")
    for step in ("preview", "confirm"):
        again = {**stale_change, **fresh, **choice, "step": step}
        answer = client.post(f"{link}/plan/change", data=again)
        assert answer.status_code == 409
        assert "changed or has ended meanwhile" in answer.get_data(as_text=True)
    cancel = client.post(f"{link}/plan/cancel", data=stale_cancel)
    assert cancel.status_code == 409 and 'id="plan-error"' in cancel.get_data(as_text=True)
    # Another debtor's link with this case's plan id: nothing of this case moves.
    other = agreed(db, clock, plan_version, client, "PC-O")
    mine = plans(db, "PC-S")[-1][0]
    foreign = {**change_form(client, other, "cancel"), "plan": str(mine)}
    answer = client.post(f"{other}/plan/cancel", data=foreign)
    assert answer.status_code == 422 and 'id="plan-error"' in answer.get_data(as_text=True)
    assert [p[1] for p in plans(db, "PC-S")] == ["replaced", "active"]
    assert [p[1] for p in plans(db, "PC-O")] == ["active"]


def test_a_plan_the_provider_schedules_asks_to_contact_the_creditor(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = agreed(db, clock, plan_version, client, "PC-GC")
    data = change_form(client, link)
    with db.transaction() as session:  # as GoCardless's mandate makes it (test_plans.py)
        session.execute(update(PaymentPlanRow).values(provider_mandate="MD000TEST"))
    page = client.get(f"{link}/plan").get_data(as_text=True)
    assert "Please contact Stadtwerke Test" in page and "Change my plan" not in page
    form = client.get(f"{link}/plan/change").get_data(as_text=True)
    assert "Please contact Stadtwerke Test" in form and 'name="step"' not in form
    choice = {"instalments": "2", "first_date": clock.now.date().isoformat(), "step": "confirm"}
    changed = client.post(f"{link}/plan/change", data={**data, **choice})
    cancelled = client.post(f"{link}/plan/cancel", data=data)
    for answer in (changed, cancelled):
        assert answer.status_code == 409
        assert "Please contact Stadtwerke Test" in answer.get_data(as_text=True)
    assert [p[1] for p in plans(db, "PC-GC")] == ["active"]


def test_the_change_pages_in_german(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link_de = sent_link(db, clock, plan_version, external_id="PC-DE2", locale="de-DE")
    hidden = form_values(client.get(f"{link_de}/plan").get_data(as_text=True), "plan")
    first = (clock.now + timedelta(days=7)).date().isoformat()
    data = {**hidden, "instalments": "3", "first_date": first, "account_holder": "Erika Muster"}
    answer = client.post(f"{link_de}/plan", data={**data, "iban": IBAN, "step": "confirm"})
    assert answer.status_code == 303
    plan = client.get(f"{link_de}/plan").get_data(as_text=True)
    assert "Meinen Ratenplan ändern" in plan and "Meinen Ratenplan kündigen" in plan
    change = client.get(f"{link_de}/plan/change").get_data(as_text=True)
    assert "Ratenplan ändern" in change and "Neue Raten anzeigen" in change
    cancel = client.get(f"{link_de}/plan/cancel").get_data(as_text=True)
    assert "Ja, meinen Ratenplan kündigen" in cancel


def test_a_balance_too_small_for_a_new_plan_may_still_cancel(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    from engine import Runtime, record_event

    link = agreed(db, clock, plan_version, client, "PC-SMALL")
    with db.transaction() as session:
        payload = {"amount": "240.00", "currency": "EUR"}
        record_event(session, "PC-SMALL", "pay-small", "payment_received", payload, clock.now)
    Runtime(db).tick(clock.now)  # €10.00 open: below two instalments of the €20.00 minimum
    page = client.get(f"{link}/plan/change").get_data(as_text=True)
    assert "too small for instalments" in page and 'name="step"' not in page
    data = {**change_form(client, link, "cancel")}
    choice = {"instalments": "2", "first_date": clock.now.date().isoformat(), "step": "confirm"}
    refused = client.post(f"{link}/plan/change", data={**data, **choice})
    assert refused.status_code == 409 and "too small" in refused.get_data(as_text=True)
    assert client.post(f"{link}/plan/cancel", data=data).status_code == 303
    assert [p[1] for p in plans(db, "PC-SMALL")] == ["cancelled"]
