"""Staff actions on the case page: each role's forms, hostile input, once per form, and the
journey reacting to the event on the real runtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Runtime, open_case, utcnow
from engine.intake.hold_until import release_holds
from engine.storage.models import AuditRow, CaseRow, EventRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import case_data, example_doc, publish

KEY = "k" * 22


@pytest.fixture
def case_id(app: Flask) -> int:
    """An open case on the minimal journey, waiting at its first step."""
    now = utcnow()
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), now - timedelta(days=1))
        due = (now - timedelta(days=3)).date().isoformat()
        data = case_data(external_id="INV-STAFF", debtor_name="Max Muster", due_date=due)
        row, _ = open_case(session, data, version, now - timedelta(hours=2))
        return row.id


def _tick(app: Flask) -> None:
    with app.app_context():
        Runtime(get_db()).tick(utcnow() + timedelta(seconds=1))


def _case(app: Flask, case_id: int) -> CaseRow:
    with app.app_context(), get_db().transaction() as session:
        row = session.get(CaseRow, case_id)
        session.expunge(row)
        return row


def _events(app: Flask, case_id: int) -> list[EventRow]:
    with app.app_context(), get_db().transaction() as session:
        rows = list(
            session.scalars(
                select(EventRow).where(EventRow.case_id == case_id).order_by(EventRow.id)
            )
        )
        for row in rows:
            session.expunge(row)
        return rows


def _post(client: FlaskClient, case_id: int, action: str, key: str = KEY, **form: str) -> object:
    return client.post(f"/cases/{case_id}/actions/{action}", data={"key": key, **form})


def _payment(**form: str) -> dict[str, str]:
    today = utcnow().date().isoformat()
    return {"amount": "50.00", "paid_on": today, "method": "bank_transfer", **form}


# -- roles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_readers_see_no_forms_and_may_post_none(
    client: FlaskClient, case_id: int, role: str
) -> None:
    login(client, role)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Record a payment" not in page and "Close the case" not in page
    for action in ("payment", "promise", "dispute", "hold", "release", "close"):
        assert _post(client, case_id, action, **_payment()).status_code == 403


def test_collector_records_but_neither_closes_nor_releases(
    client: FlaskClient, case_id: int
) -> None:
    login(client, "collector")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for words in (
        "Record a payment",
        "Record a promise to pay",
        "Record a dispute",
        "Put the case on hold",
    ):
        assert words in page
    assert "Close the case" not in page
    assert _post(client, case_id, "close", reason="settled").status_code == 403
    assert _post(client, case_id, "release").status_code == 403


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_every_form(client: FlaskClient, case_id: int, role: str) -> None:
    login(client, role)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Record a payment" in page and "Close the case" in page


def test_unknown_action_is_404(manager: FlaskClient, case_id: int) -> None:
    assert _post(manager, case_id, "refund").status_code == 404
    assert _post(manager, 999999, "payment", **_payment()).status_code == 404


# -- payment ----------------------------------------------------------------------------------


def test_payment_in_full_closes_the_case_and_stops_the_journey(
    app: Flask, client: FlaskClient, case_id: int
) -> None:
    login(client, "collector")
    response = _post(client, case_id, "payment", **_payment(amount="250.00", reference="TX-1"))
    assert response.status_code == 303
    (event,) = _events(app, case_id)
    assert event.type == "payment_received"
    assert event.payload == {
        "amount": "250.00",
        "currency": "EUR",
        "method": "bank_transfer",
        "reference": "TX-1",
    }
    assert event.event_id == f"staff:{case_id}:payment:{KEY}"
    _tick(app)
    case = _case(app, case_id)
    assert case.status == "closed" and case.outcome == "paid" and case.amount_open == 0
    with app.app_context(), get_db().transaction() as session:
        staff = session.scalars(
            select(AuditRow).where(AuditRow.case_id == case_id, AuditRow.kind == "staff_action")
        ).all()
        assert [a.detail["by"] for a in staff] == ["collector@example.org"]
        assert staff[0].detail["role"] == "collector"
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "recorded by collector@example.org" in page
    assert "nothing more can be recorded" in page


def test_a_double_click_records_once(app: Flask, manager: FlaskClient, case_id: int) -> None:
    for _ in range(3):
        assert _post(manager, case_id, "payment", **_payment()).status_code == 303
    assert len(_events(app, case_id)) == 1
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "recorded before" in page
    _tick(app)
    assert _case(app, case_id).amount_open == 200
    # A new form (a new key) is a new payment.
    assert _post(manager, case_id, "payment", key="n" * 22, **_payment()).status_code == 303
    assert len(_events(app, case_id)) == 2


@pytest.mark.parametrize(
    "amount",
    ["0", "-5", "1.234", "1000000000", "99999999999999999999", "abc", "NaN", "Infinity", "", "1e3"],
)
def test_hostile_amounts_are_named(
    app: Flask, manager: FlaskClient, case_id: int, amount: str
) -> None:
    response = _post(manager, case_id, "payment", **_payment(amount=amount))
    page = response.get_data(as_text=True)
    if amount == "1e3":  # a number, 1000.00: recorded
        assert response.status_code == 303
        return
    assert response.status_code == 422
    assert "Amount:" in page and 'aria-invalid="true"' in page
    assert _events(app, case_id) == []


def test_zero_decimal_currency_refuses_cents(app: Flask, manager: FlaskClient) -> None:
    now = utcnow()
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), now - timedelta(days=1))
        row, _ = open_case(session, case_data(currency="JPY", amount="5000"), version, now)
        case_id = row.id
    response = _post(manager, case_id, "payment", **_payment(amount="10.50"))
    assert response.status_code == 422
    assert "at most 0 decimal places for JPY" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("paid_on", "words"),
    [
        ("tomorrow", "Choose a date until"),
        ("2020-01-01", "Choose a date from"),
        ("31.12.", "YYYY-MM-DD"),
    ],
)
def test_payment_day_is_checked(
    manager: FlaskClient, case_id: int, paid_on: str, words: str
) -> None:
    if paid_on == "tomorrow":
        paid_on = (utcnow() + timedelta(days=2)).date().isoformat()
    response = _post(manager, case_id, "payment", **_payment(paid_on=paid_on))
    assert response.status_code == 422
    assert "Paid on:" in response.get_data(as_text=True)
    assert words in response.get_data(as_text=True)


def test_unknown_method_and_long_reference(manager: FlaskClient, case_id: int) -> None:
    response = _post(manager, case_id, "payment", **_payment(method="gold", reference="x" * 101))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Method:" in page and "Reference:" in page


def test_a_missing_or_bad_key_is_refused(app: Flask, manager: FlaskClient, case_id: int) -> None:
    response = _post(manager, case_id, "payment", key="short", **_payment())
    assert response.status_code == 422 and "Form:" in response.get_data(as_text=True)
    assert _events(app, case_id) == []


# -- promise, dispute, hold, release, close ---------------------------------------------------


def test_promise_within_the_limit(app: Flask, manager: FlaskClient, case_id: int) -> None:
    day = (utcnow() + timedelta(days=5)).date().isoformat()
    assert _post(manager, case_id, "promise", promise_date=day).status_code == 303
    _tick(app)
    assert _case(app, case_id).promise_date.isoformat() == day


@pytest.mark.parametrize("days", [-3, 400])
def test_promise_outside_the_limit_is_named(
    app: Flask, manager: FlaskClient, case_id: int, days: int
) -> None:
    day = (utcnow() + timedelta(days=days)).date().isoformat()
    response = _post(manager, case_id, "promise", promise_date=day)
    assert response.status_code == 422
    assert "Promised date:" in response.get_data(as_text=True)
    assert _events(app, case_id) == []


def test_dispute_holds_the_case(app: Flask, manager: FlaskClient, case_id: int) -> None:
    response = _post(manager, case_id, "dispute", reason="amount_wrong", note="Says 200")
    assert response.status_code == 303
    (event,) = _events(app, case_id)
    assert event.payload == {"reason": "amount_wrong", "note": "Says 200", "by": "staff"}
    _tick(app)
    case = _case(app, case_id)
    assert (case.status, case.hold_reason) == ("held", "dispute")
    # A manager releases it: dispute_resolved, and the case goes on.
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Release the hold" in page
    assert _post(manager, case_id, "release", key="r" * 22).status_code == 303
    assert _events(app, case_id)[-1].type == "dispute_resolved"
    _tick(app)
    assert _case(app, case_id).status == "active"


def test_dispute_with_an_unknown_reason(manager: FlaskClient, case_id: int) -> None:
    response = _post(manager, case_id, "dispute", reason="bored", note="y" * 1001)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Reason:" in page and "Note:" in page


def test_hold_kinds_come_from_the_policy_rules(
    app: Flask, client: FlaskClient, case_id: int
) -> None:
    login(client, "collector")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for kind in ("cease_contact", "breathing_space", "attorney", "insolvency", "deceased"):
        assert f'value="{kind}"' in page
    until = (utcnow() + timedelta(days=30)).date().isoformat()
    response = _post(client, case_id, "hold", kind="breathing_space", until=until)
    assert response.status_code == 303
    (event,) = _events(app, case_id)
    assert event.type == "breathing_space_started" and event.payload["until"] == until
    _tick(app)
    assert _case(app, case_id).hold_reason == "breathing_space"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"kind": "holiday"}, "Kind of hold:"),
        ({"kind": "vulnerability"}, "Kind of hold:"),
        ({"kind": "cease_contact", "until": "2001-01-01"}, "Until:"),
        ({"kind": "cease_contact", "until": "someday"}, "Until:"),
    ],
)
def test_hostile_holds_are_named(
    app: Flask, manager: FlaskClient, case_id: int, form: dict[str, str], field: str
) -> None:
    response = _post(manager, case_id, "hold", **form)
    assert response.status_code == 422 and field in response.get_data(as_text=True)
    assert _events(app, case_id) == []


def test_release_without_a_hold_is_refused(manager: FlaskClient, case_id: int) -> None:
    response = _post(manager, case_id, "release")
    assert response.status_code == 422
    assert "not on a hold that can be released" in response.get_data(as_text=True)


def test_close_ends_the_journey(app: Flask, client: FlaskClient, case_id: int) -> None:
    login(client, "admin")
    assert _post(client, case_id, "close", reason="written_off").status_code == 303
    _tick(app)
    case = _case(app, case_id)
    assert (case.status, case.outcome) == ("closed", "closed")
    # Nothing more on a closed case: named, never a 500; the same form again answers as before.
    response = _post(client, case_id, "payment", key="p" * 22, **_payment())
    assert response.status_code == 422
    assert "Case: This case is closed" in response.get_data(as_text=True)
    assert _post(client, case_id, "close", reason="written_off").status_code == 303


def test_forms_in_german(client: FlaskClient, case_id: int) -> None:
    login(client, "manager")
    client.post("/lang/de")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Zahlung erfassen" in page and "Zahlungsversprechen erfassen" in page
    response = _post(client, case_id, "payment", **_payment(amount="0"))
    assert "Betrag:" in response.get_data(as_text=True)


def test_forms_need_the_csrf_token(app: Flask, case_id: int) -> None:
    client = login(app.test_client(), "manager")
    app.config["WTF_CSRF_ENABLED"] = True
    response = _post(client, case_id, "payment", **_payment())
    assert response.status_code == 400
    assert _events(app, case_id) == []


def test_occurred_at_is_the_day_paid(app: Flask, manager: FlaskClient, case_id: int) -> None:
    day = (utcnow() - timedelta(days=3)).date()
    _post(manager, case_id, "payment", **_payment(paid_on=day.isoformat()))
    (event,) = _events(app, case_id)
    assert event.occurred_at == datetime.combine(day, datetime.min.time()).replace(hour=12)
    assert UTC  # the stored moment is naive UTC


def test_a_hold_until_a_day_shows_it_and_the_schedule_releases_it(
    app: Flask, manager: FlaskClient, case_id: int
) -> None:
    until = (utcnow() + timedelta(days=3)).date()
    response = _post(manager, case_id, "hold", kind="cease_contact", until=until.isoformat())
    assert response.status_code == 303
    _tick(app)
    case = _case(app, case_id)
    assert (case.status, case.hold_until) == ("held", until)
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"until {until.isoformat()}, released on that day" in page
    german = manager.get(f"/cases/{case_id}", headers={"Accept-Language": "de"})
    assert f"bis {until.isoformat()}, an diesem Tag aufgehoben" in german.get_data(as_text=True)
    assert f"until {until.isoformat()}" in manager.get("/cases").get_data(as_text=True)

    later = datetime.combine(until, datetime.min.time(), tzinfo=UTC) + timedelta(hours=1)
    with app.app_context(), get_db().transaction() as session:
        assert release_holds(session, later) == 1
    with app.app_context():
        Runtime(get_db()).tick(later + timedelta(seconds=1))
    assert _case(app, case_id).status == "active"
    page = manager.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"released by the schedule: the hold was until {until.isoformat()}" in page
