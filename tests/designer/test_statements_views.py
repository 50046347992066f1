"""Bank statements in the designer: upload, counts, unmatched lines, assign, dismiss, roles."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine import utcnow
from engine.storage.models import CaseRow, EventRow, StatementLineRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import example_doc, make_case, publish

DATA = Path(__file__).parents[1] / "connectors" / "data"


@pytest.fixture
def cases(app: Flask) -> None:
    """Case 1 (RF95MW1, 120.00 open), 2 and 3, and INV-2002 (250.00 open)."""
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), utcnow())
        for external_id, amount in (
            ("INV-2001", "120.00"),
            ("INV-2000", "250.00"),
            ("INV-2003", "80.00"),
            ("INV-2002", "250.00"),
        ):
            make_case(session, version, utcnow(), external_id=external_id, amount=amount)


def upload(client: FlaskClient, content: bytes, name: str = "statement.xml") -> Any:
    return client.post(
        "/statements",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def lines(app: Flask) -> dict[str, StatementLineRow]:
    with app.app_context(), get_db().transaction() as session:
        rows = list(session.scalars(select(StatementLineRow)))
        session.expunge_all()
    return {r.place: r for r in rows}


def payments(app: Flask) -> int:
    with app.app_context(), get_db().transaction() as session:
        query = select(func.count()).where(EventRow.type == "payment_received")
        return session.scalar(query) or 0


def test_a_manager_uploads_a_statement_and_sees_counts_and_the_waiting_line(
    app: Flask, manager: FlaskClient, cases: None
) -> None:
    response = upload(manager, (DATA / "camt053_v02.xml").read_bytes(), "dez.xml")

    assert response.status_code == 303
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "dez.xml read: 2 booked to cases, 1 waiting for you, 1 not payments" in page
    assert "Unbekannt GmbH" in page
    assert "No case reference or case id in the payment&#39;s text." in page
    assert payments(app) == 2


def test_the_page_speaks_german(app: Flask, manager: FlaskClient, cases: None) -> None:
    manager.post("/lang/de")
    upload(manager, (DATA / "camt053_v02.xml").read_bytes(), "dez.xml")

    page = manager.get("/statements").get_data(as_text=True)
    assert "Kontoauszüge" in page
    assert "Einem Fall zubuchen" in page
    assert "Weder Fallreferenz noch Fall-ID im Verwendungszweck." in page


def test_an_mt940_statement_books_its_lines(app: Flask, manager: FlaskClient, cases: None) -> None:
    response = upload(manager, (DATA / "mt940.sta").read_bytes(), "dez.sta")

    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "dez.sta read: 2 booked to cases, 0 waiting for you, 1 not payments" in page
    assert payments(app) == 2


def test_the_same_file_again_books_nothing(app: Flask, manager: FlaskClient, cases: None) -> None:
    data = (DATA / "camt053_v02.xml").read_bytes()
    upload(manager, data)
    again = upload(manager, data)

    page = manager.get(again.headers["Location"]).get_data(as_text=True)
    assert "0 booked to cases, 0 waiting for you, 0 not payments; 4 lines were read before" in page
    assert payments(app) == 2


def test_a_bad_file_names_the_entry_and_books_nothing(manager: FlaskClient, cases: None) -> None:
    bad = (DATA / "camt053_v02.xml").read_bytes().replace(b'<Amt Ccy="EUR">50.00</Amt>', b"")

    response = upload(manager, bad)

    assert response.status_code == 422
    assert "Ntry 2: no Amt" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"x", "cases.csv", "Only CAMT.053"),
        (b"<" + b" " * (9 * 1024 * 1024), "big.xml", "larger than 8 MB"),
        (b'<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>', "x.xml", "refused"),
    ],
)
def test_hostile_uploads_get_a_clear_answer(
    manager: FlaskClient, content: bytes, name: str, words: str
) -> None:
    response = upload(manager, content, name)

    assert response.status_code in (400, 422)
    assert words in response.get_data(as_text=True)


def test_a_manager_books_a_waiting_line_to_a_case(
    app: Flask, manager: FlaskClient, cases: None
) -> None:
    upload(manager, (DATA / "camt053_v02.xml").read_bytes())
    line = lines(app)["Ntry 4"]

    wrong = manager.post(f"/statements/lines/{line.id}/assign", data={"case": "NOPE"})
    assert wrong.status_code == 422
    assert "There is no case &#39;NOPE&#39;." in wrong.get_data(as_text=True)
    done = manager.post(f"/statements/lines/{line.id}/assign", data={"case": "INV-2003"})

    assert done.status_code == 303
    booked = lines(app)["Ntry 4"]
    assert (booked.status, booked.decided_by) == ("assigned", "manager@example.org")
    assert payments(app) == 3
    page = manager.get("/statements").get_data(as_text=True)
    assert "No line is waiting" in page
    twice = manager.post(f"/statements/lines/{line.id}/assign", data={"case": "INV-2003"})
    assert twice.status_code == 422 and payments(app) == 3


def test_a_manager_dismisses_a_waiting_line(app: Flask, manager: FlaskClient, cases: None) -> None:
    upload(manager, (DATA / "camt053_v02.xml").read_bytes())
    line = lines(app)["Ntry 4"]

    response = manager.post(f"/statements/lines/{line.id}/dismiss", data={"note": "Vorkasse"})

    assert response.status_code == 303
    assert lines(app)["Ntry 4"].status == "dismissed"
    assert payments(app) == 2


def test_a_missing_line_is_a_clear_answer(manager: FlaskClient) -> None:
    response = manager.post("/statements/lines/999/dismiss", data={})

    assert response.status_code == 422
    assert "There is no statement line 999." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_only_managers_and_admins_see_statements(client: FlaskClient, role: str) -> None:
    login(client, role)

    assert client.get("/statements").status_code == 403
    assert upload(client, (DATA / "mt940.sta").read_bytes(), "x.sta").status_code == 403
    assert client.post("/statements/lines/1/dismiss").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client: FlaskClient) -> None:
    assert client.get("/statements").status_code == 302


def test_the_upload_form_is_labelled_for_the_keyboard(manager: FlaskClient) -> None:
    page = manager.get("/statements").get_data(as_text=True)

    assert re.search(r'<label for="statement-file">', page)
    assert 'id="statement-file"' in page
    assert 'href="/statements" aria-current="page"' in page


def test_admins_see_it_too(app: Flask, client: FlaskClient, cases: None) -> None:
    login(client, "admin")
    assert client.get("/statements").status_code == 200
    with app.app_context(), get_db().transaction() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 4
