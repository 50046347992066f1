"""Several invoices of one person on the portal: listed, chosen, paid in one checkout."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, Runtime, VirtualClock, portal_url, record_event
from engine.storage.models import DebtorCreditRow, EventRow, PaymentIntentRow, VersionRow
from tests.factories import make_case
from tests.portal.conftest import PORTAL, SECRET, case_of, form_values
from tests.portal.test_payments import sandbox_click


@pytest.fixture
def person(db: Database, clock: VirtualClock, version: VersionRow) -> dict[str, Any]:
    """Erika owes three invoices (CUST-9); another person one; the link is of the March one."""
    ids = {}
    with db.transaction() as session:
        for ext, due, amount, debtor in (
            ("INV-MAR", "2026-03-02", "100.00", "CUST-9"),
            ("INV-JAN", "2026-01-05", "40.00", "CUST-9"),
            ("INV-FEB", "2026-02-03", "60.00", "CUST-9"),
            ("OTHER-1", "2026-01-01", "70.00", "CUST-10"),
        ):
            row = make_case(
                session, version, clock.now, external_id=ext, due_date=due, amount=amount,
                debtor_id=debtor, reference=f"R-{ext}", locale="en-GB",
            )  # fmt: skip
            ids[ext] = row.id
        march = session.get(type(row), ids["INV-MAR"])
        link = portal_url(march, clock.now, PORTAL, SECRET).replace("https://pay.example.org", "")
    Runtime(db).tick(clock.now)
    return {"link": link, **ids}


def items_form(client: FlaskClient, link: str, *items: int, **extra: str) -> dict[str, Any]:
    page = client.get(link).get_data(as_text=True)
    return {
        **form_values(page, "pay"),
        "items": "1",
        "method": "card",
        "item": [str(i) for i in items],
        **extra,
    }


def test_the_page_lists_every_open_invoice_the_current_first(
    client: FlaskClient, person: dict[str, Any]
) -> None:
    page = client.get(person["link"]).get_data(as_text=True)
    assert "All your open invoices" in page
    listed = re.findall(r"<td>(R-[A-Z0-9-]+)", page)
    assert listed == ["R-INV-MAR", "R-INV-JAN", "R-INV-FEB"]  # the other person's is not there
    assert 'aria-current="true"' in page and "this message" in page
    for case_id, amount in ((person["INV-JAN"], "€40.00"), (person["INV-FEB"], "€60.00")):
        assert f'id="item_{case_id}" name="item" value="{case_id}"' in page
        assert amount in page
    assert 'id="items-total"' in page and "€100.00" in page  # the current one chosen
    assert "js/portal_items.js" in page
    client.post(f"{person['link']}/lang/de", data=form_values(page, "lang/de"))
    german = client.get(person["link"]).get_data(as_text=True)
    assert "Alle Ihre offenen Rechnungen" in german and "Ausgewählte Rechnungen bezahlen" in german


def test_a_case_without_a_debtor_looks_as_today(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    with db.transaction() as session:
        row = make_case(session, version, clock.now, external_id="ALONE", locale="en-GB")
        link = portal_url(row, clock.now, PORTAL, SECRET).replace("https://pay.example.org", "")
    page = client.get(link).get_data(as_text=True)
    assert "All your open invoices" not in page and 'name="items"' not in page
    assert "Pay €250.00 now" in page


def test_ticking_two_invoices_pays_both_in_one_checkout(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    person: dict[str, Any],
    sandbox: SandboxPaymentProvider,
) -> None:
    link = person["link"]
    form = items_form(client, link, person["INV-MAR"], person["INV-JAN"])
    answer = client.post(f"{link}/pay", data=form)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert sandbox.payments()[0]["amount_minor"] == 14000
    back = sandbox_click(client, answer.headers["Location"], "pay")
    assert "your payment has arrived" in client.get(back).get_data(as_text=True)
    Runtime(db).tick(clock.now)
    assert case_of(db, "INV-MAR").status == "closed"
    assert case_of(db, "INV-JAN").status == "closed"
    assert case_of(db, "INV-FEB").status == "active"


@pytest.mark.parametrize(
    ("items", "amount", "field", "words"),
    [
        ([], "", "item", "please choose at least one invoice"),
        (["999999"], "", "item", "please choose among the invoices shown"),
        (["OTHER-1"], "", "item", "please choose among the invoices shown"),
        (["abc"], "", "item", "please choose among the invoices shown"),
        (["-3"], "", "item", "please choose among the invoices shown"),
        (["INV-JAN"], "-5", "amount", "Amount to pay"),
        (["INV-JAN"], "1e99", "amount", "Amount to pay"),
        (["INV-JAN"], "9" * 19, "amount", "Amount to pay"),
        (["INV-JAN"], "40.01", "amount", "between €0.01 and €40.00"),
        (["INV-JAN"], "0", "amount", "between €0.01 and €40.00"),
    ],
)
def test_hostile_forms_answer_an_error_naming_the_field(
    client: FlaskClient,
    db: Database,
    person: dict[str, Any],
    items: list[str],
    amount: str,
    field: str,
    words: str,
) -> None:
    values = [str(person[i]) if i in person else i for i in items]
    form = items_form(client, person["link"], amount=amount)
    form["item"] = values
    answer = client.post(f"{person['link']}/pay", data=form)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert words in page
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaymentIntentRow)) == 0


def test_a_credit_is_shown_to_the_debtor(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    person: dict[str, Any],
    sandbox: SandboxPaymentProvider,
) -> None:
    link = person["link"]
    form = items_form(client, link, person["INV-MAR"], person["INV-JAN"])
    location = client.post(f"{link}/pay", data=form).headers["Location"]
    with db.transaction() as session:  # the host books a transfer of the January invoice
        payload = {"amount": "40.00", "currency": "EUR"}
        record_event(session, "INV-JAN", "bank:jan", "payment_received", payload, clock.now)
    sandbox_click(client, location, "pay")
    with db.transaction() as session:
        assert session.scalar(select(DebtorCreditRow.amount_minor)) == 4000
        received = session.scalars(
            select(EventRow.event_id).where(EventRow.case_id == person["INV-JAN"])
        )
        assert list(received) == ["bank:jan"]  # nothing more for January: it was paid
    Runtime(db).tick(clock.now)
    # The March invoice is closed now; the February one's page shows the credit.
    with db.transaction() as session:
        from tests.factories import case_row

        feb = case_row(session, "INV-FEB")
        feb_link = portal_url(feb, clock.now, PORTAL, SECRET).replace("https://pay.example.org", "")
    page = client.get(feb_link).get_data(as_text=True)
    assert "You have a credit of €40.00" in page
