"""Settling a debtor's kept credit on the debtor page: who may, paid back and set off once,
hostile forms answered 422 naming the field, German and English."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import open_case, utcnow
from engine.storage.models import AuditRow, DebtorCreditRow, EventRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import case_data, example_doc, publish


@pytest.fixture
def setup(app: Flask) -> dict[str, Any]:
    """Debtor KD-7 with INV-1 and INV-2 (250.00 EUR each) and US-1 (250.00 USD), debtor KD-8
    with OTHER-1, and a credit of 12.50 EUR kept for KD-7 from INV-1."""
    now = utcnow()
    due = (now - timedelta(days=10)).date().isoformat()
    ids: dict[str, Any] = {}
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), now - timedelta(days=1))
        for ext, debtor, currency in (
            ("INV-1", "KD-7", "EUR"),
            ("INV-2", "KD-7", "EUR"),
            ("US-1", "KD-7", "USD"),
            ("OTHER-1", "KD-8", "EUR"),
        ):
            data = case_data(external_id=ext, due_date=due, debtor_id=debtor, currency=currency)
            row, _ = open_case(session, data, version, now - timedelta(hours=1))
            ids[ext] = row.id
            ids.setdefault(debtor, row.debtor_id)
        kept_at = (now - timedelta(hours=1)).replace(tzinfo=None)
        credit = DebtorCreditRow(
            debtor_id=ids["KD-7"], case_id=ids["INV-1"], event_id="bank:1", amount_minor=1250,
            currency="EUR", state="kept", created_at=kept_at,
        )  # fmt: skip
        other = DebtorCreditRow(
            debtor_id=ids["KD-8"], case_id=ids["OTHER-1"], event_id="bank:2", amount_minor=500,
            currency="EUR", state="kept", created_at=kept_at,
        )  # fmt: skip
        session.add_all([credit, other])
        session.flush()
        ids["credit"], ids["other_credit"] = credit.id, other.id
    return ids


def _url(ids: dict[str, Any], how: str, credit: int | None = None) -> str:
    return f"/debtors/{ids['KD-7']}/credits/{credit or ids['credit']}/{how}"


def _credit(app: Flask, credit_id: int) -> DebtorCreditRow:
    with app.app_context(), get_db().transaction() as session:
        row = session.get(DebtorCreditRow, credit_id)
        session.expunge(row)
        return row


def _credit_events(app: Flask) -> list[EventRow]:
    with app.app_context(), get_db().transaction() as session:
        rows = list(session.scalars(select(EventRow).where(EventRow.event_id.like("credit:%"))))
        for row in rows:
            session.expunge(row)
        return rows


def _today() -> str:
    return utcnow().date().isoformat()


@pytest.mark.parametrize("role", ["viewer", "reviewer", "collector"])
def test_other_roles_see_the_history_but_no_forms(
    client: FlaskClient, setup: dict[str, Any], role: str
) -> None:
    login(client, role)
    page = client.get(f"/debtors/{setup['KD-7']}").get_data(as_text=True)
    assert "12.50 EUR" in page and "Kept" in page
    assert "Record as paid back" not in page and "Set off against an open case" not in page
    for how in ("paid_back", "set_off"):
        answer = client.post(_url(setup, how), data={"paid_on": _today(), "case": setup["INV-2"]})
        assert answer.status_code == 403
    assert _credit(client.application, setup["credit"]).state == "kept"


def test_a_manager_records_a_credit_paid_back_once(
    app: Flask, manager: FlaskClient, setup: dict[str, Any]
) -> None:
    page = manager.get(f"/debtors/{setup['KD-7']}").get_data(as_text=True)
    assert "Record as paid back" in page and "Set off against an open case" in page
    assert 'name="csrf_token"' in page
    form = {"paid_on": _today(), "reference": "SEPA-4711", "note": "per phone"}

    first = manager.post(_url(setup, "paid_back"), data=form)
    again = manager.post(_url(setup, "paid_back"), data=form, follow_redirects=True)

    assert first.status_code == 303
    assert "nothing was recorded twice" in again.get_data(as_text=True)
    row = _credit(app, setup["credit"])
    assert (row.state, row.reference, row.note, row.settled_by) == (
        "paid_back",
        "SEPA-4711",
        "per phone",
        "manager@example.org",
    )
    assert row.settled_by_user_id is not None
    page = manager.get(f"/debtors/{setup['KD-7']}").get_data(as_text=True)
    assert "Paid back" in page and "recorded by manager@example.org" in page
    assert "SEPA-4711" in page and "No credit kept." in page
    assert "Record as paid back" not in page  # settled: no forms any more
    with app.app_context(), get_db().transaction() as session:
        kinds = session.scalars(select(AuditRow.kind).where(AuditRow.case_id == setup["INV-1"]))
        assert "debtor_credit_settled" in list(kinds)


def test_a_manager_sets_a_credit_off_against_an_open_case_once(
    app: Flask, client: FlaskClient, setup: dict[str, Any]
) -> None:
    login(client, "admin")
    form = {"case": str(setup["INV-2"]), "note": "agreed on the phone"}

    first = client.post(_url(setup, "set_off"), data=form, follow_redirects=True)
    client.post(_url(setup, "set_off"), data=form)  # a double submit

    assert first.status_code == 200
    assert "12.50 EUR set off against the case" in first.get_data(as_text=True)
    (event,) = _credit_events(app)
    assert (event.case_id, event.type, event.event_id) == (
        setup["INV-2"],
        "payment_received",
        f"credit:{setup['credit']}",
    )
    assert event.payload["amount"] == "12.50" and event.payload["method"] == "credit"
    row = _credit(app, setup["credit"])
    assert (row.state, row.set_off_case_id, row.note) == (
        "set_off",
        setup["INV-2"],
        "agreed on the phone",
    )
    page = client.get(f"/debtors/{setup['KD-7']}").get_data(as_text=True)
    assert "Set off" in page and f"/cases/{setup['INV-2']}" in page


@pytest.mark.parametrize(
    ("how", "form", "words"),
    [
        ("set_off", {"case": "OTHER-1"}, "Case: Choose one of the listed cases."),  # foreign
        ("set_off", {"case": "US-1"}, "Case: Choose a case in EUR"),  # other currency
        ("set_off", {"case": "INV-1"}, None),  # where the credit came from, open here: fine
        ("set_off", {"case": "abc"}, "Case: Choose one of the listed cases."),
        ("set_off", {"case": "-3"}, "Case: Choose one of the listed cases."),
        ("set_off", {"case": "9" * 30}, "Case: Choose one of the listed cases."),
        ("set_off", {"case": "999999"}, "Case: Choose one of the listed cases."),
        ("set_off", {}, "Case: Choose one of the listed cases."),
        ("set_off", {"case": "INV-2", "note": "x" * 1001}, "Note: Write at most 1000"),
        ("paid_back", {"paid_on": "2026-13-45"}, "Paid back on: Enter a date as YYYY-MM-DD."),
        ("paid_back", {"paid_on": "yesterday"}, "Paid back on: Enter a date as YYYY-MM-DD."),
        ("paid_back", {"paid_on": "2999-01-01"}, "Paid back on: Choose a date until"),
        ("paid_back", {"paid_on": "2000-01-01"}, "Paid back on: Choose a date from"),
        ("paid_back", {"paid_on": "TODAY", "reference": "r" * 101}, "Reference: Write at most"),
    ],
)
def test_a_hostile_form_answers_422_naming_the_field(
    app: Flask,
    manager: FlaskClient,
    setup: dict[str, Any],
    how: str,
    form: dict[str, str],
    words: str | None,
) -> None:
    data = {k: str(setup.get(v, v)) for k, v in form.items()}
    if data.get("paid_on") == "TODAY":
        data["paid_on"] = _today()
    answer = manager.post(_url(setup, how), data=data)
    if words is None:  # INV-1 is open and owes: a set-off against it is fine
        assert answer.status_code == 303
        return
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422, page
    assert words in page and 'aria-invalid="true"' in page
    assert _credit(app, setup["credit"]).state == "kept"
    assert _credit_events(app) == []


def test_another_debtors_credit_and_an_unknown_action(
    app: Flask, manager: FlaskClient, setup: dict[str, Any]
) -> None:
    foreign = manager.post(
        _url(setup, "paid_back", setup["other_credit"]), data={"paid_on": _today()}
    )
    assert foreign.status_code == 422
    assert "This credit does not exist for this debtor." in foreign.get_data(as_text=True)
    assert _credit(app, setup["other_credit"]).state == "kept"
    assert manager.post(_url(setup, "refund"), data={}).status_code == 404
    assert manager.post(f"/debtors/{setup['KD-7']}/credits/abc/paid_back").status_code == 404


def test_a_credit_settled_meanwhile_refuses_the_other_action(
    app: Flask, manager: FlaskClient, setup: dict[str, Any]
) -> None:
    manager.post(_url(setup, "paid_back"), data={"paid_on": _today()})
    late = manager.post(_url(setup, "set_off"), data={"case": str(setup["INV-2"])})
    assert late.status_code == 422
    assert "was settled meanwhile (Paid back)" in late.get_data(as_text=True)
    assert _credit_events(app) == []


def test_the_credit_forms_speak_german(manager: FlaskClient, setup: dict[str, Any]) -> None:
    german = {"Accept-Language": "de"}
    page = manager.get(f"/debtors/{setup['KD-7']}", headers=german).get_data(as_text=True)
    assert "Guthaben" in page and "Als zurückgezahlt erfassen" in page
    assert "Mit einem offenen Fall verrechnen" in page
    answer = manager.post(_url(setup, "set_off"), data={"case": "abc"}, headers=german)
    assert answer.status_code == 422
    assert "Wählen Sie einen der aufgeführten Fälle." in answer.get_data(as_text=True)


def test_the_forms_need_the_csrf_token(app: Flask, setup: dict[str, Any]) -> None:
    client = login(app.test_client(), "manager")
    app.config["WTF_CSRF_ENABLED"] = True
    answer = client.post(_url(setup, "set_off"), data={"case": str(setup["INV-2"])})
    assert answer.status_code == 400
    assert _credit(app, setup["credit"]).state == "kept" and _credit_events(app) == []
