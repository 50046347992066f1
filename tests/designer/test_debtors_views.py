"""The debtor page: two cases of one person advanced by the real runtime and dispatcher."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Runtime, SandboxDispatcher, open_case, record_event
from engine.storage.models import CaseRow, VersionRow
from mahnwerk_web.db import get_db
from tests.factories import case_data, example_doc, publish


@pytest.fixture
def case_ids(app: Flask) -> tuple[int, int, int]:
    """Two cases of debtor KD-100 (one of them insolvent) after their first reminders;
    returns (debtor row id, case id, case id)."""
    now = datetime(2026, 3, 10, 9, tzinfo=UTC)  # a Tuesday morning: no quiet hours
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = publish(session, example_doc("minimal"), now)
            due = (now - timedelta(days=10)).date().isoformat()
            ids = []
            for ext in ("INV-1", "INV-2"):
                data = case_data(
                    external_id=ext, debtor_name="Max Muster", due_date=due, debtor_id="KD-100"
                )
                row, _ = open_case(session, data, version, now)
                ids.append(row.id)
            debtor = row.debtor_id
            assert debtor is not None
        for hours in (0, 1, 30):
            Runtime(db).tick(now + timedelta(hours=hours))
            SandboxDispatcher(db, portal_base_url="http://x/p").dispatch(
                now + timedelta(hours=hours, minutes=5)
            )
        with db.transaction() as session:
            record_event(session, "INV-2", "ins-1", "insolvency", {}, now + timedelta(hours=31))
        Runtime(db).tick(now + timedelta(hours=31))
    return debtor, ids[0], ids[1]


def test_the_debtor_page_shows_cases_contacts_and_holds(
    manager: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    debtor, first, second = case_ids

    page = manager.get(f"/debtors/{debtor}").get_data(as_text=True)

    assert "KD-100" in page and "Max Muster" in page
    assert f"/cases/{first}" in page and f"/cases/{second}" in page
    assert "Insolvency" in page  # the hold on the person
    assert page.count('class="badge"') >= 2  # messages of both cases, in one history


def test_the_case_page_links_to_its_debtor(
    manager: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    debtor, first, _ = case_ids
    assert f"/debtors/{debtor}" in manager.get(f"/cases/{first}").get_data(as_text=True)


def test_the_debtor_page_speaks_german(
    manager: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    debtor, _, _ = case_ids
    page = manager.get(f"/debtors/{debtor}", headers={"Accept-Language": "de"}).get_data(
        as_text=True
    )
    assert "Kontaktverlauf" in page and "Insolvenz" in page


def test_an_unknown_debtor_is_not_found(manager: FlaskClient) -> None:
    assert manager.get("/debtors/999999").status_code == 404
    assert manager.get("/debtors/abc").status_code == 404


def test_the_debtor_page_needs_a_signed_in_user(
    client: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    answer = client.get(f"/debtors/{case_ids[0]}")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_the_debtor_page_shows_a_kept_credit(
    app: Flask, manager: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    """An overpayment kept for the person (engine/payments/allocations.py) is shown to staff."""
    from engine.storage.models import DebtorCreditRow, PaymentIntentRow

    debtor, first, _second = case_ids
    now = datetime(2026, 3, 12, 9)
    with app.app_context(), get_db().transaction() as session:
        intent = PaymentIntentRow(
            case_id=first, provider="sandbox", idempotency_key="mahnwerk-debtor-test",
            attempt=1, method="card", amount_minor=30000, currency="EUR", state="paid",
            amount_refunded_minor=0, created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(intent)
        session.flush()
        session.add(
            DebtorCreditRow(
                debtor_id=debtor, intent_id=intent.id, amount_minor=1250, currency="EUR",
                state="kept", created_at=now,
            )
        )  # fmt: skip
    page = manager.get(f"/debtors/{debtor}").get_data(as_text=True)
    assert "Credit" in page and "12.50 EUR" in page
    assert "Nothing is paid back automatically" in page


def test_a_hold_on_the_person_shows_its_last_day(
    app: Flask, manager: FlaskClient, case_ids: tuple[int, int, int]
) -> None:
    later = datetime(2026, 3, 12, 9, tzinfo=UTC)
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = session.get(VersionRow, session.get(CaseRow, case_ids[1]).version_id)
            for ext in ("INV-7", "INV-8"):
                data = case_data(external_id=ext, debtor_name="Eva Muster", debtor_id="KD-200")
                row, _ = open_case(session, data, version, later)
            payload = {"kind": "cease_contact", "until": "2026-04-01", "by": "staff"}
            record_event(session, "INV-7", "cc-1", "cease_contact", payload, later)
        Runtime(db).tick(later)
        Runtime(db).tick(later)  # the hold reaches the person's other case
    debtor = row.debtor_id

    page = manager.get(f"/debtors/{debtor}").get_data(as_text=True)
    assert page.count("until 2026-04-01") == 3  # the hold on the person, and each held case
    german = manager.get(f"/debtors/{debtor}", headers={"Accept-Language": "de"})
    assert german.get_data(as_text=True).count("bis 2026-04-01") == 3
