"""The portal's "what is open": principal, fees, interest with its rate in words, the total, and
the total is what "Pay now" and the bank transfer ask for."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock, record_event
from tests.factories import publish
from tests.portal.conftest import sent_link, waiting_doc


def charged_link(db: Database, clock: VirtualClock) -> str:
    doc = waiting_doc()
    doc["jurisdiction"] = "DE"
    doc["settings"] = {"interest": {"mode": "statutory"}}
    with db.transaction() as session:
        version = publish(session, doc, clock.now)
    # Due 1 Feb 2026: on entering the reminder 28 days of interest on 250.00 at 6.27 % (1.20).
    link = sent_link(
        db,
        clock,
        version,
        external_id="INV-OWED",
        amount="250.00",
        due_date="2026-02-01",
        locale="de-DE",
    )
    with db.transaction() as session:
        payload = {"amount": "2.50", "currency": "EUR", "name": "Porto"}
        record_event(session, "INV-OWED", "fee-1", "fee_charged", payload, clock.now)
    clock.advance(timedelta(minutes=5))
    Runtime(db).tick(clock.now)
    return link


def test_what_is_open_lists_principal_fees_interest_and_total(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    link = charged_link(db, clock)

    html = client.get(link).get_data(as_text=True)

    assert "<dt>Hauptforderung</dt><dd>250,00\xa0€</dd>" in html
    assert "<dt>Gebühren</dt><dd>2,50\xa0€</dd>" in html
    assert "<dt>Zinsen</dt><dd>1,20\xa0€</dd>" in html
    assert "<dt>Gesamt</dt><dd>253,70\xa0€</dd>" in html
    assert "6,27 % pro Jahr (5 Prozentpunkte über dem Basiszinssatz (§ 247 BGB) von 1,27 %" in html
    assert "253,70" in html.split('id="pay-title"')[1].split("</section>")[0]  # Pay now


def test_interest_accrues_on_the_page_day_by_day(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    link = charged_link(db, clock)
    clock.advance(timedelta(days=10))

    html = client.get(link).get_data(as_text=True)

    # 1.20 booked + 10 days unbooked (250.00 * 6.27 % * 10 / 365 = 42.9 cents)
    assert "<dt>Zinsen</dt><dd>1,63\xa0€</dd>" in html
    assert "<dt>Gesamt</dt><dd>254,13\xa0€</dd>" in html


def test_a_case_without_charges_shows_the_open_amount_alone(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    with db.transaction() as session:
        version = publish(session, waiting_doc(), clock.now)
    link = sent_link(db, clock, version, external_id="INV-PLAIN", amount="189.00")

    html = client.get(link).get_data(as_text=True)

    assert "owed-parts" not in html
    assert "189.00" in html or "189,00" in html
