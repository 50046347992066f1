"""Agree a plan on the portal: schedule shown before confirming, limits and IBAN checked with the
field named, a double submit storing one plan, tampered links and closed cases opening nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.storage.models import EventRow, PaymentPlanRow, PlanInstalmentRow, VersionRow
from tests.engine.payments.conftest import plan_doc
from tests.factories import publish
from tests.portal.conftest import case_of, form_values, sent_link

IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def plan_version(db: Database, clock: VirtualClock) -> VersionRow:
    with db.transaction() as session:
        return publish(session, plan_doc(), clock.now)


def _link(db: Database, clock: VirtualClock, version: VersionRow, external_id: str) -> str:
    return sent_link(db, clock, version, external_id=external_id, locale="en-GB")


def _form(client: FlaskClient, link: str) -> dict[str, str]:
    return form_values(client.get(f"{link}/plan").get_data(as_text=True), "plan")


def _choice(clock: VirtualClock, **extra: str) -> dict[str, str]:
    first = (clock.now + timedelta(days=7)).date().isoformat()
    return {"instalments": "3", "first_date": first, "account_holder": "Erika Muster", **extra}


def _plans(db: Database) -> list[Any]:
    with db.transaction() as session:
        rows = session.scalars(select(PaymentPlanRow)).all()
        session.expunge_all()
        return list(rows)


def test_the_case_page_offers_a_plan(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = _link(db, clock, plan_version, "PL-1")
    page = client.get(link).get_data(as_text=True)
    assert "Agree a plan" in page and f'href="{link}/plan"' in page
    form = client.get(f"{link}/plan").get_data(as_text=True)
    assert 'for="instalments"' in form and 'for="iban"' in form and "€250.00" in form


def test_preview_then_confirm_stores_one_plan_and_one_event(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = _link(db, clock, plan_version, "PL-2")
    hidden = _form(client, link)
    data = {**hidden, **_choice(clock, iban=IBAN)}
    preview = client.post(f"{link}/plan", data={**data, "step": "preview"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "€83.34" in html and html.count("€83.33") == 2 and "Agree to this plan" in html
    assert _plans(db) == []  # nothing stored by a preview
    first = client.post(f"{link}/plan", data={**data, "step": "confirm"})
    second = client.post(f"{link}/plan", data={**data, "step": "confirm"})  # double submit
    assert first.status_code == second.status_code == 303
    [plan] = _plans(db)
    assert plan.iban_masked == "DE89 **** 3000" and plan.total_minor == 25000
    assert "DE89370400440532013000" not in str(plan.__dict__)
    case = case_of(db, "PL-2")
    with db.transaction() as session:
        kinds = session.scalars(select(EventRow.type).where(EventRow.case_id == case.id)).all()
        amounts = session.scalars(select(PlanInstalmentRow.amount_minor)).all()
    assert list(kinds) == ["plan_agreed"] and sum(amounts) == 25000
    page = client.get(f"{link}/plan?done=1").get_data(as_text=True)
    assert "Your instalment plan is agreed" in page and "DE89 **** 3000" in page
    Runtime(db).tick(clock.now)
    assert case_of(db, "PL-2").node_id == "plan"
    # Another form after the plan: no second plan.
    fresh = form_values(client.get(link).get_data(as_text=True), "promise")  # a new once
    again = client.post(f"{link}/plan", data={**data, **fresh, "step": "confirm"})
    assert again.status_code == 303 and len(_plans(db)) == 1


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"iban": "DE89 3704 0044 0532 0130 01"}, "iban", "check digits"),
        ({"iban": "XX89 3704 0044 0532 0130 00"}, "iban", "country code"),
        ({"iban": "DE89 3704 0044 0532 0130"}, "iban", "wrong length"),
        ({"iban": "<script>alert(1)</script>"}, "iban", "letters and digits"),
        ({"iban": IBAN, "account_holder": ""}, "account_holder", "account holder"),
        ({"iban": IBAN, "instalments": "7"}, "instalments", "between 2 and 6"),
        ({"iban": IBAN, "instalments": "-1"}, "instalments", "number of instalments"),
        ({"iban": IBAN, "first_date": "2099-01-01"}, "first_date", "first date between"),
        ({"iban": IBAN, "first_date": "yesterday"}, "first_date", "YYYY-MM-DD"),
    ],
)
def test_hostile_input_gets_a_clear_error_naming_the_field(
    db: Database,
    clock: VirtualClock,
    plan_version: VersionRow,
    client: FlaskClient,
    fields: dict[str, str],
    field: str,
    words: str,
) -> None:
    link = _link(db, clock, plan_version, "PL-H")
    data = {**_form(client, link), **_choice(clock, **fields), "step": "confirm"}
    answer = client.post(f"{link}/plan", data=data)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert f'id="{field}-error"' in html and f'aria-describedby="{field}-error"' in html
    assert words in html
    assert "alert(1)</script>" not in html
    assert _plans(db) == []


def test_a_tampered_link_a_closed_case_and_a_missing_form_value(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = _link(db, clock, plan_version, "PL-T")
    hidden = _form(client, link)
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    assert client.get(f"{tampered}/plan").status_code == 404
    data = {**hidden, **_choice(clock, iban=IBAN), "step": "confirm"}
    assert client.post(f"{tampered}/plan", data=data).status_code == 404
    no_once = client.post(f"{link}/plan", data={**data, "once": "x"})
    assert no_once.status_code == 400
    with db.transaction() as session:
        record_event(session, "PL-T", "close-PL-T", "case_closed", {}, clock.now)
    Runtime(db).tick(clock.now)
    closed = client.post(f"{link}/plan", data=data)
    assert closed.status_code == 410 and "This case is closed" in closed.get_data(as_text=True)
    assert _plans(db) == []


def test_a_journey_without_plans_or_debits(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    doc = plan_doc()
    doc["settings"]["payments"]["methods"] = ["card"]  # no debits: no mandate asked
    with db.transaction() as session:
        version = publish(session, doc, clock.now)
    link = _link(db, clock, version, "PL-C")
    form = client.get(f"{link}/plan").get_data(as_text=True)
    assert 'for="iban"' not in form
    data = {**form_values(form, "plan"), **_choice(clock), "step": "confirm"}
    assert client.post(f"{link}/plan", data=data).status_code == 303
    assert _plans(db)[0].iban_masked is None


def test_the_plan_page_in_german(
    db: Database, clock: VirtualClock, plan_version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, plan_version, external_id="PL-DE", locale="de-DE")
    html = client.get(f"{link}/plan").get_data(as_text=True)
    assert "Ratenzahlung" in html and "Anzahl der Raten" in html


def test_with_gocardless_the_entered_account_becomes_its_mandate(
    db: Database, clock: VirtualClock, tmp_path: Any
) -> None:
    """A GoCardless journey: confirming makes the mandate at the (local, fake) GoCardless from
    the entered IBAN, once however often the form is sent; a refused account names `iban`."""
    import portal
    from connectors.payment_gocardless import GoCardlessPayments
    from engine import PaymentProviders
    from tests.connectors.fake_gocardless import TOKEN, WEBHOOK_SECRET, FakeGoCardless
    from tests.portal.conftest import SECRET

    fake = FakeGoCardless()
    fake.start()
    try:
        registry = PaymentProviders({})
        registry.add(
            "gocardless",
            GoCardlessPayments(token=TOKEN, secret=WEBHOOK_SECRET, base_url=fake.base_url),
        )
        app = portal.create_app(
            {
                "PAYMENT_PROVIDERS": registry,
                "TESTING": True,
                "SECRET_KEY": SECRET,
                "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
                "PORTAL_CLOCK": lambda: clock.now,
            }
        )
        client = app.test_client()
        with db.transaction() as session:
            version = publish(session, plan_doc(provider="gocardless"), clock.now)
        link = _link(db, clock, version, "PL-GC")
        data = {**_form(client, link), **_choice(clock, iban=IBAN), "step": "confirm"}
        assert client.post(f"{link}/plan", data=data).status_code == 303
        assert client.post(f"{link}/plan", data=data).status_code == 303  # double submit
        [plan] = _plans(db)
        assert plan.provider_mandate and plan.provider_mandate.startswith("MD")
        mandates = [o for o in fake.objects.values() if o["id"].startswith("BRQ")]
        assert len(mandates) == 1 and mandates[0]["status"] == "fulfilled"
    finally:
        fake.stop()
