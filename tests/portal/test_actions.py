"""The debtor's actions: each stores one case event (double submit too) and the journey reacts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock
from engine.storage.models import EventRow, VersionRow
from tests.factories import audit_rows, outbox_rows
from tests.portal.conftest import case_of, form_values, sent_link


def _events(db: Database, case_id: int) -> list[EventRow]:
    with db.transaction() as session:
        return list(session.scalars(select(EventRow).where(EventRow.case_id == case_id)))


def _post(client: FlaskClient, link: str, action: str, **fields: str) -> object:
    hidden = form_values(client.get(link).get_data(as_text=True), action)
    return client.post(f"{link}/{action}", data={**hidden, **fields})


def test_a_promise_is_stored_once_and_moves_the_journey_to_the_promise_node(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-P")
    case = case_of(db, "INV-P")
    assert case.node_id == "answer"
    day = (clock.now + timedelta(days=10)).date().isoformat()
    hidden = form_values(client.get(link).get_data(as_text=True), "promise")

    first = client.post(f"{link}/promise", data={**hidden, "promise_date": day})
    second = client.post(f"{link}/promise", data={**hidden, "promise_date": day})  # double click

    assert first.status_code == second.status_code == 303
    events = _events(db, case.id)
    assert [(e.type, e.payload) for e in events] == [
        ("promise_to_pay", {"date": day, "amount": None})
    ]
    assert events[0].event_id.startswith(f"portal:{case.id}:promise:")
    Runtime(db).tick(clock.now)
    case = case_of(db, "INV-P")
    assert case.node_id == "promise"
    assert case.promise_date.isoformat() == day
    assert "Vielen Dank" in client.get(f"{link}?done=promise").get_data(as_text=True)
    with db.transaction() as session:
        assert [a.detail["event"] for a in audit_rows(session, case.id, "event")] == [
            "promise_to_pay"
        ]


def test_a_promise_beyond_the_limit_or_in_the_past_is_refused_naming_the_field(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-L")
    case = case_of(db, "INV-L")

    for day in ("2026-01-01", (clock.now + timedelta(days=31)).date().isoformat(), "soon"):
        page = _post(client, link, "promise", promise_date=day)
        assert page.status_code == 422
        assert 'aria-invalid="true" aria-describedby="promise_date-error"' in page.get_data(
            as_text=True
        )
    assert _events(db, case.id) == []


def test_a_dispute_holds_the_case_and_stops_contact(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-X")
    case = case_of(db, "INV-X")
    hidden = form_values(client.get(link).get_data(as_text=True), "dispute")

    for _ in range(2):
        client.post(
            f"{link}/dispute", data={**hidden, "reason": "already_paid", "note": "Paid 3/1"}
        )

    events = _events(db, case.id)
    assert [(e.type, e.payload["reason"]) for e in events] == [("dispute_opened", "already_paid")]
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        sent_before = len(outbox_rows(session, case.id))
    clock.advance(timedelta(days=8))  # past the wait's timeout: without the hold, a reminder
    Runtime(db).tick(clock.now)
    case = case_of(db, "INV-X")
    assert case.status == "held" and case.hold_reason == "dispute"
    with db.transaction() as session:
        assert len(outbox_rows(session, case.id)) == sent_before


def test_a_callback_request_is_one_event_with_its_window(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-CB")
    case = case_of(db, "INV-CB")
    day = (clock.now + timedelta(days=1)).date().isoformat()

    bad = _post(client, link, "callback", callback_date=day, start_hour="12", end_hour="9")
    good = _post(
        client, link, "callback", callback_date=day, start_hour="9", end_hour="12", phone="+49301"
    )

    assert bad.status_code == 422 and "nach seinem Beginn enden" in bad.get_data(as_text=True)
    assert good.status_code == 303
    assert [(e.type, e.payload) for e in _events(db, case.id)] == [
        (
            "callback_requested",
            {"date": day, "start_hour": 9, "end_hour": 12, "phone": "+49301"},
        )
    ]


def test_contact_preferences_opt_out_of_a_channel(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-O")
    case = case_of(db, "INV-O")

    refused = _post(client, link, "contact", opt_out="letter")  # no address: not offered
    page = _post(client, link, "contact", opt_out="email")

    assert refused.status_code == 422
    assert page.status_code == 303
    assert [(e.type, e.payload) for e in _events(db, case.id)] == [
        ("opted_out", {"channel": "email"})
    ]
    Runtime(db).tick(clock.now)
    assert case_of(db, "INV-O").contact_prefs["opted_out"] == ["email"]


def test_a_form_without_its_csrf_token_or_one_time_value_stores_nothing(
    db: Database, clock: VirtualClock, version: VersionRow, app: object, client: FlaskClient
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True  # type: ignore[attr-defined]
    link = sent_link(db, clock, version, external_id="INV-Z")
    case = case_of(db, "INV-Z")
    hidden = form_values(client.get(link).get_data(as_text=True), "dispute")

    no_csrf = client.post(f"{link}/dispute", data={"once": hidden["once"], "reason": "other"})
    no_once = client.post(
        f"{link}/dispute", data={"csrf_token": hidden["csrf_token"], "reason": "other"}
    )

    assert no_csrf.status_code == 400 and "The form has expired" in no_csrf.get_data(as_text=True)
    assert no_once.status_code == 400
    assert _events(db, case.id) == []


def test_german_from_the_case_locale_and_english_on_request(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="INV-DE", country="DE", locale="de-DE")

    german = client.get(link).get_data(as_text=True)
    assert '<html lang="de">' in german and "Zahlungszusage" in german
    hidden = form_values(german, "promise")
    client.post(f"{link}/lang/en", data={"csrf_token": hidden["csrf_token"]})
    english = client.get(link).get_data(as_text=True)
    assert '<html lang="en">' in english and "Promise to pay" in english
    fresh = client.application.test_client()
    expired = fresh.get("/p/nonsense", headers={"Accept-Language": "de"})
    assert "Dieser Link funktioniert nicht" in expired.get_data(as_text=True)


def test_whatsapp_is_offered_for_opting_out_once_the_company_sends_on_it(
    db: Database,
    clock: VirtualClock,
    version: VersionRow,
    client: FlaskClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    link = sent_link(db, clock, version, external_id="INV-W", phone="+4915112345678")
    case = case_of(db, "INV-W")
    off = client.get(link).get_data(as_text=True)
    settings = tmp_path / "mahnwerk.toml"
    settings.write_text('[channels]\nwhatsapp = "wa"\n\n[profiles.wa]\nprovider = "sandbox"\n')
    monkeypatch.setenv("MAHNWERK_CONFIG", str(settings))

    on = client.get(link).get_data(as_text=True)
    page = _post(client, link, "contact", opt_out="whatsapp")

    # WhatsApp is off until [channels] names a profile: no choice the company never uses.
    assert 'value="whatsapp"' not in off and 'value="sms"' in off
    assert 'id="opt_out_whatsapp"' in on and ">WhatsApp</label>" in on
    assert page.status_code == 303
    assert [(e.type, e.payload) for e in _events(db, case.id)] == [
        ("opted_out", {"channel": "whatsapp"})
    ]
