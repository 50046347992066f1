"""Cases and the sandbox outbox, on a case advanced by the real runtime and dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Runtime, SandboxDispatcher, open_case, queries, record_event
from mahnwerk_web.db import get_db
from tests.factories import case_data, example_doc, publish


@pytest.fixture
def case_id(app: Flask) -> int:
    """A case on the minimal journey that has had its first reminder."""
    # A fixed Tuesday morning: with the wall clock the contact policy's quiet hours would
    # defer the reminder whenever the suite runs in the evening.
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = publish(session, example_doc("minimal"), now)
            due = (now - timedelta(days=10)).date().isoformat()
            data = case_data(external_id="INV-4711", debtor_name="Max Muster", due_date=due)
            row, _ = open_case(session, data, version, now)
            case_id = row.id
        for hours in (0, 1, 30):
            Runtime(db).tick(now + timedelta(hours=hours))
            SandboxDispatcher(db, portal_base_url="http://x/p").dispatch(
                now + timedelta(hours=hours, minutes=5)
            )
    return case_id


def test_search_finds_by_name(manager: FlaskClient, case_id: int) -> None:
    assert "INV-4711" in manager.get("/cases?q=muster").get_data(as_text=True)


def test_search_for_htmx_returns_the_results_only(manager: FlaskClient, case_id: int) -> None:
    page = manager.get("/cases?q=4711", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "INV-4711" in page and "<html" not in page


def test_search_misses_are_empty(manager: FlaskClient, case_id: int) -> None:
    assert "INV-4711" not in manager.get("/cases?q=zzz").get_data(as_text=True)


def test_case_page_shows_transitions_with_rule(manager: FlaskClient, case_id: int) -> None:
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "transition" in page and "start:enter:0" in page


def test_case_page_shows_the_rendered_message(manager: FlaskClient, case_id: int) -> None:
    assert "Dear Max Muster" in manager.get(f"/cases/{case_id}").get_data(as_text=True)


def test_outbox_shows_what_the_debtor_sees(manager: FlaskClient, case_id: int) -> None:
    page = manager.get("/outbox?channel=email").get_data(as_text=True)
    assert "A friendly reminder: invoice" in page


def test_outbox_filter_by_status(manager: FlaskClient, case_id: int) -> None:
    assert "Max Muster" not in manager.get("/outbox?status=failed").get_data(as_text=True)


def test_unknown_case_is_404(manager: FlaskClient) -> None:
    assert manager.get("/cases/999999").status_code == 404


def test_journey_list_counts_running_cases(app: Flask, case_id: int) -> None:
    with app.app_context(), get_db().transaction() as session:
        (summary,) = queries.list_journeys(session)
    assert summary.cases_running == 1


def test_case_page_says_how_the_case_was_opened(manager: FlaskClient, case_id: int) -> None:
    assert "by the host API" in manager.get(f"/cases/{case_id}").get_data(as_text=True)
    manager.post("/lang/de")
    assert "über die Host-API" in manager.get(f"/cases/{case_id}").get_data(as_text=True)


@pytest.fixture
def branched(app: Flask, case_id: int) -> int:
    """The case ticked on past the payment wait, through the 'Large amount?' condition."""
    later = datetime(2026, 3, 21, 9, tzinfo=UTC)
    with app.app_context():
        Runtime(get_db()).tick(later)
    return case_id


def test_case_page_explains_each_step_with_links_to_the_rule(
    manager: FlaskClient, branched: int
) -> None:
    page = manager.get(f"/cases/{branched}").get_data(as_text=True)

    assert "From &#39;Large amount?&#39; the case went on to" in page
    assert "The open amount was 250.00 EUR, so the condition" in page
    assert 'href="/journeys/minimal/v1/rules#rule-big:enter:0"' in page
    assert "The email &#39;reminder&#39; went out (sandboxed)." in page
    assert "the en-GB variant was taken" in page
    rules = manager.get("/journeys/minimal/v1/rules").get_data(as_text=True)
    assert 'id="rule-big:enter:0"' in rules


def test_case_page_explains_in_german(manager: FlaskClient, branched: int) -> None:
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    page = manager.get(f"/cases/{branched}", headers=german).get_data(as_text=True)

    assert "Der offene Betrag war 250,00\xa0€, also traf die Bedingung" in page
    assert "ging hinaus (in der Sandbox)." in page
    assert 'Regel: <a href="/journeys/minimal/v1/rules#rule-big:enter:0">' in page
    assert "Version 1</a>" in page


def test_the_timeline_names_events_in_words_in_both_languages(
    app: Flask, manager: FlaskClient, case_id: int
) -> None:
    now = datetime(2026, 3, 12, 9, tzinfo=UTC)
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            record_event(session, "INV-4711", "ev-1", "promise_to_pay", {"date": "2026-03-20"}, now)
        Runtime(db).tick(now + timedelta(minutes=1))
    english = manager.get(f"/cases/{case_id}", headers={"Accept-Language": "en"})
    german = manager.get(f"/cases/{case_id}", headers={"Accept-Language": "de"})
    assert "Promise to pay</span>" in english.get_data(as_text=True)
    assert "Zahlungszusage</span>" in german.get_data(as_text=True)


def test_case_page_shows_fees_interest_and_the_total(
    app: Flask, manager: FlaskClient, case_id: int
) -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            payload = {"amount": "2.50", "currency": "EUR", "name": "Porto"}
            record_event(session, "INV-4711", "fee-1", "fee_charged", payload, now)
        Runtime(db).tick(now + timedelta(minutes=5))

    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)

    assert "<dt>Fees</dt><dd>2.50 EUR</dd>" in page
    assert "<dt>Total due</dt><dd>252.50 EUR</dd>" in page
    assert "Fee charged" in page  # the booking on the timeline, in words
