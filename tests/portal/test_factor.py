"""The second factor: asked before anything of the case shows, counted in the database, locked
out after the journey's number of failures, and a right answer opens its own case only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import portal
from engine import Database, VirtualClock
from engine.access.portal_factor import normalise
from engine.storage.models import VersionRow
from tests.factories import publish
from tests.portal.conftest import sent_link, waiting_doc

# A postcode stays on a case with its street (engine.run.store keeps an address only with one).
STREET = "Hauptstr. 1"


def factor_doc(kind: str, failures: int = 5, minutes: int = 30) -> dict[str, Any]:
    doc = waiting_doc()
    doc["key"] = f"factor-{kind.replace('_', '-')}"
    doc["settings"] = {
        "portal": {
            "second_factor": kind,
            "factor_failures": failures,
            "factor_lockout_minutes": minutes,
        }
    }
    return doc


@pytest.fixture
def postcode_version(db: Database, clock: VirtualClock) -> VersionRow:
    with db.transaction() as session:
        return publish(session, factor_doc("postcode"), clock.now)


def _csrf(client: FlaskClient, link: str) -> str:
    html = client.get(link).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _answer(client: FlaskClient, link: str, answer: str, csrf: str) -> Any:
    return client.post(f"{link}/factor", data={"answer": answer, "csrf_token": csrf})


def test_the_page_asks_before_it_shows_anything(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(
        db,
        clock,
        postcode_version,
        external_id="F-1",
        locale="en-GB",
        amount="189.00",
        reference="R-F1",
        debtor_name="Erika Geheim",
        postcode="10115",
        street=STREET,
    )
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 401
    assert "Your postcode" in html
    for secret in ("189", "R-F1", "Erika", "Geheim"):
        assert secret not in html
    # Every other page of the case asks as well; none acts.
    for path in (f"{link}/girocode.svg",):
        assert client.get(path).status_code == 401
    form = {"once": "x" * 22, "csrf_token": _csrf(client, link), "promise_date": "2026-03-20"}
    assert client.post(f"{link}/promise", data=form).status_code == 401


def test_a_right_answer_opens_that_case_only(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, client: FlaskClient
) -> None:
    mine = sent_link(
        db,
        clock,
        postcode_version,
        external_id="F-2",
        reference="R-MINE",
        postcode="10115",
        street=STREET,
    )
    other = sent_link(
        db,
        clock,
        postcode_version,
        external_id="F-3",
        reference="R-OTHER",
        postcode="10115",
        street=STREET,
    )
    csrf = _csrf(client, mine)

    response = _answer(client, mine, " 101 15 ", csrf)

    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={mine}" in cookie
    html = client.get(mine).get_data(as_text=True)
    assert "R-MINE" in html
    # The other case's link still asks, though the same postcode would answer it.
    other_page = client.get(other)
    assert other_page.status_code == 401 and "R-OTHER" not in other_page.get_data(as_text=True)
    # The pass sent to the other case's path opens nothing either.
    value = re.search(r"mahnwerk_factor=([^;]+)", cookie).group(1)
    stranger = client.application.test_client()
    stranger.set_cookie("mahnwerk_factor", value, path=other)
    assert stranger.get(other).status_code == 401


def test_a_hundred_guesses_lock_out_and_never_let_in(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(
        db,
        clock,
        postcode_version,
        external_id="F-4",
        locale="en-GB",
        reference="R-F4",
        postcode="80331",
        street=STREET,
    )
    csrf = _csrf(client, link)
    statuses = []
    for n in range(100):
        response = _answer(client, link, f"{10000 + n}", csrf)
        statuses.append(response.status_code)
        assert "R-F4" not in response.get_data(as_text=True)
        assert "mahnwerk_factor=" not in response.headers.get("Set-Cookie", "")
    assert statuses[:4] == [422] * 4 and set(statuses[4:]) == {429}
    locked = _answer(client, link, "80331", csrf)
    assert locked.status_code == 429
    assert "call Stadtwerke Test" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 0
    # Still refused a minute before the lockout ends; the right answer works after it.
    clock.advance(timedelta(minutes=29))
    assert _answer(client, link, "80331", csrf).status_code == 429
    clock.advance(timedelta(minutes=2))
    assert _answer(client, link, "80331", csrf).status_code == 303
    assert "R-F4" in client.get(link).get_data(as_text=True)


def test_the_count_is_in_the_database_not_the_process(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, app: Flask
) -> None:
    link = sent_link(
        db, clock, postcode_version, external_id="F-5", postcode="50667", street=STREET
    )
    for n in range(5):  # each try from a fresh worker process, as Granian's workers are
        worker = portal.create_app(dict(app.config))
        client = worker.test_client()
        status = _answer(client, link, f"9999{n}", _csrf(client, link)).status_code
        assert status == (429 if n == 4 else 422)
    client = portal.create_app(dict(app.config)).test_client()
    assert _answer(client, link, "50667", _csrf(client, link)).status_code == 429


def test_one_client_is_limited_over_many_cases(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, app: Flask
) -> None:
    app.config["PORTAL_FACTOR_CLIENT_FAILURES"] = 3
    client = app.test_client()
    links = [
        sent_link(
            db, clock, postcode_version, external_id=f"F-C{n}", postcode="20095", street=STREET
        )
        for n in range(3)
    ]
    for link in links:
        _answer(client, link, "00000", _csrf(client, link))
    fresh = sent_link(
        db, clock, postcode_version, external_id="F-C9", postcode="20095", street=STREET
    )
    assert _answer(client, fresh, "20095", _csrf(client, fresh)).status_code == 429


def test_date_of_birth_in_german_and_english_forms(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    with db.transaction() as session:
        version = publish(session, factor_doc("date_of_birth"), clock.now)
    link = sent_link(
        db,
        clock,
        version,
        external_id="F-6",
        locale="en-GB",
        attributes={"date_of_birth": "1980-12-31"},
    )
    csrf = _csrf(client, link)
    assert "Your date of birth" in client.get(link).get_data(as_text=True)
    assert _answer(client, link, "30.12.1980", csrf).status_code == 422
    assert _answer(client, link, "31.12.1980", csrf).status_code == 303


def test_invoice_number_and_a_case_without_a_value(
    db: Database, clock: VirtualClock, client: FlaskClient
) -> None:
    with db.transaction() as session:
        version = publish(session, factor_doc("invoice_number"), clock.now)
    link = sent_link(db, clock, version, external_id="F-7", reference="RE 2026-0042")
    assert _answer(client, link, "re2026-0042", _csrf(client, link)).status_code == 303
    with db.transaction() as session:
        version = publish(session, factor_doc("postcode"), clock.now)
    bare = sent_link(db, clock, version, external_id="F-8", locale="en-GB", postcode=None)
    refused = _answer(client, bare, "10115", _csrf(client, bare))
    assert refused.status_code == 403 and "Please contact us" in refused.get_data(as_text=True)


def test_the_question_in_german(
    db: Database, clock: VirtualClock, postcode_version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(
        db, clock, postcode_version, external_id="F-9", postcode="1", street=STREET, locale="de-DE"
    )
    html = client.get(link).get_data(as_text=True)
    assert "Ihre Postleitzahl" in html and 'lang="de"' in html


def test_a_journey_without_a_factor_asks_nothing(
    db: Database, clock: VirtualClock, version: VersionRow, client: FlaskClient
) -> None:
    link = sent_link(db, clock, version, external_id="F-10", reference="R-OPEN")
    assert "R-OPEN" in client.get(link).get_data(as_text=True)


@pytest.mark.parametrize(
    ("kind", "raw", "locale", "expected"),
    [
        ("postcode", " sw1a 1aa ", "", "SW1A1AA"),
        ("date_of_birth", "31.12.1980", "", "1980-12-31"),
        ("date_of_birth", "1.2.1980", "", "1980-02-01"),
        ("date_of_birth", "01/02/1980", "en_GB", "1980-02-01"),
        ("date_of_birth", "01/02/1980", "en-US", "1980-01-02"),
        ("date_of_birth", "31.02.1980", "", None),
        ("date_of_birth", "yesterday", "", None),
        ("invoice_number", "re 2026-42", "", "RE202642"),
        ("postcode", "x" * 500, "", None),
    ],
)
def test_answers_are_normalised(kind: str, raw: str, locale: str, expected: str | None) -> None:
    assert normalise(kind, raw, locale) == expected
