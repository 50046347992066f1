"""Pay now: the section, the checkout redirect, the sandbox page, the return page, refusals."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from connectors.payment_sandbox import SandboxPaymentProvider
from engine import Database, Runtime, VirtualClock
from engine.storage.models import CaseRow, EventRow, PaymentIntentRow, VersionRow
from tests.portal.conftest import case_of, form_values, sent_link


def pay_form(client: FlaskClient, link: str) -> dict[str, str]:
    page = client.get(link).get_data(as_text=True)
    return {**form_values(page, "pay"), "method": "card"}


def checkout(client: FlaskClient, link: str) -> str:
    answer = client.post(f"{link}/pay", data=pay_form(client, link))
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer.headers["Location"]


def sandbox_click(client: FlaskClient, location: str, outcome: str) -> str:
    path = location.replace("http://localhost", "")
    page = client.get(path).get_data(as_text=True)
    assert "Sandbox — kein echtes Geld" in page or "Sandbox — no real money" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(path, data={"csrf_token": token, "outcome": outcome})
    assert answer.status_code == 303
    return answer.headers["Location"].replace("http://localhost", "")


def test_the_case_page_offers_pay_now_with_the_amount_and_methods(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    german = client.get(sent_link(db, clock, version)).get_data(as_text=True)
    assert "Jetzt bezahlen" in german and "250,00\xa0€ jetzt bezahlen" in german
    assert 'value="card"' in german and "Karte" in german
    link = sent_link(db, clock, version, locale="en-GB")
    page = client.get(link).get_data(as_text=True)
    assert "Pay now" in page and "Pay €250.00 now" in page and "Card" in page


def test_paying_with_the_sandbox_closes_the_case(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    version: VersionRow,
    sandbox: SandboxPaymentProvider,
) -> None:
    link = sent_link(db, clock, version, external_id="PAY-1")
    location = checkout(client, link)
    assert location.startswith("http://localhost/p/sandbox/checkout/sbx_")
    back = sandbox_click(client, location, "pay")
    assert re.fullmatch(rf"{re.escape(link)}/payment/\d+", back)
    with db.transaction() as session:
        assert session.scalar(select(EventRow.type).where(EventRow.type == "payment_received"))
    Runtime(db).tick(clock.now)
    assert case_of(db, "PAY-1").status == "closed" and case_of(db, "PAY-1").outcome == "paid"
    done = client.get(back)
    assert done.status_code == 200
    assert "Vielen Dank, Ihre Zahlung ist eingegangen" in done.get_data(as_text=True)
    assert client.get(link).status_code == 410  # the case is closed: its page says so


def test_a_double_click_makes_one_payment(
    client: FlaskClient,
    db: Database,
    clock: VirtualClock,
    version: VersionRow,
    sandbox: SandboxPaymentProvider,
) -> None:
    link = sent_link(db, clock, version)
    form = pay_form(client, link)
    first = client.post(f"{link}/pay", data=form)
    second = client.post(f"{link}/pay", data=form)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(sandbox.payments()) == 1


def test_a_failed_payment_says_so_and_offers_the_way_back(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version)
    back = sandbox_click(client, checkout(client, link), "fail")
    page = client.get(back).get_data(as_text=True)
    assert "Die Zahlung ist nicht durchgegangen" in page and "nichts abgebucht" in page
    assert f'href="{link}"' in page


def test_an_abandoned_payment_says_it_was_not_completed(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version, locale="en-GB")
    back = sandbox_click(client, checkout(client, link), "abandon")
    assert "The payment was not completed" in client.get(back).get_data(as_text=True)


def test_nothing_open_gives_a_clear_page(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version, external_id="ZERO-1")
    form = pay_form(client, link)
    with db.transaction() as session:
        session.execute(update(CaseRow).values(amount_open=0))
    answer = client.post(f"{link}/pay", data=form)
    assert answer.status_code == 409
    assert "Es ist nichts zu bezahlen" in answer.get_data(as_text=True)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(PaymentIntentRow)) == 0


def test_paying_a_closed_case_gives_a_clear_page(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version)
    form = pay_form(client, link)
    with db.transaction() as session:
        session.execute(update(CaseRow).values(status="closed", outcome="closed"))
    answer = client.post(f"{link}/pay", data=form)
    # A closed case's page shows no data of it, its language neither: the browser's.
    assert answer.status_code == 410 and "This case is closed" in answer.get_data(as_text=True)


def test_a_method_the_journey_does_not_allow_is_refused_naming_the_choice(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version)
    for method in ("paypal", "", "card' OR 1=1"):
        answer = client.post(f"{link}/pay", data={**pay_form(client, link), "method": method})
        assert answer.status_code == 422
        assert "Bitte wählen Sie einen Zahlungsweg" in answer.get_data(as_text=True)


def test_another_cases_payment_and_unknown_sandbox_ids_open_nothing(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    first = sent_link(db, clock, version)
    second = sent_link(db, clock, version)
    back = sandbox_click(client, checkout(client, first), "pay")
    intent = back.rsplit("/", 1)[1]
    assert client.get(f"{second}/payment/{intent}").status_code == 404
    assert client.get("/p/sandbox/checkout/sbx_" + "0" * 32).status_code == 404
    assert client.get("/p/sandbox/checkout/../../etc").status_code == 404


def test_the_pay_form_needs_its_once_value(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version)
    form = pay_form(client, link)
    form["once"] = "x"
    assert client.post(f"{link}/pay", data=form).status_code == 400


def test_a_journey_naming_an_unconfigured_provider_offers_no_payment(
    client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    link = sent_link(db, clock, version)
    with db.transaction() as session:
        document = dict(session.get(VersionRow, version.id).document)
        document["settings"] = {"payments": {"provider": "acme", "methods": ["card"]}}
        session.execute(update(VersionRow).values(document=document))
    page = client.get(link).get_data(as_text=True)
    assert "Online bezahlen ist hier nicht möglich" in page
    assert 'action="' + link + '/pay"' not in page


def test_a_provider_with_wrong_settings_offers_no_payment(
    app, client: FlaskClient, db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    from engine import PaymentProviders

    app.config["PAYMENT_PROVIDERS"] = PaymentProviders({"sandbox": {"directory": "/x"}})
    link = sent_link(db, clock, version)
    page = client.get(link)
    assert page.status_code == 200
    assert "Online bezahlen ist hier nicht möglich" in page.get_data(as_text=True)
