"""Importing cases in the designer: upload, map, preview, import, summary, on any worker."""

from __future__ import annotations

import io
import re
import time
from datetime import date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select

from designer import create_app
from designer.imports import KEEP, SHOWN_ERRORS, Upload, remember, remembered
from engine import Database, utcnow
from engine.ops.jobs import create_job, record_progress
from engine.storage.models import CaseRow, ImportMappingRow, UploadRow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import example_doc, publish

HEADER = "Invoice No;Name;Country;Currency;Amount;Due;Notes"
GOOD_AND_BAD = "\n".join(
    [
        HEADER,
        "INV-1;Erika Mustermann;DE;EUR;120,50;01.11.2026;first",
        "INV-2;Max Muster;DE;EUR;1.234;2026-11-01;ambiguous amount",
        "INV-3;Anna Beispiel;DE;EUR;80.00;2026-11-02;",
    ]
)


@pytest.fixture
def published(app: Flask) -> None:
    """journeys_examples/minimal.json, published."""
    with app.app_context(), get_db().transaction() as session:
        publish(session, example_doc("minimal"), utcnow())


def upload(client: FlaskClient, content: bytes, name: str = "cases.csv") -> Any:
    return client.post(
        "/imports", data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data"
    )


def upload_id(response: Any) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def selected(page: str, column: int) -> str:
    """The value chosen in the select of a column."""
    select_html = re.search(rf'<select id="col-{column}".*?</select>', page, re.S)
    assert select_html is not None
    chosen = re.search(r'<option value="([^"]*)" selected>', select_html.group(0))
    assert chosen is not None
    return chosen.group(1)


def form(page: str, **changes: str) -> dict[str, str]:
    """The mapping form as the page fills it, with some fields changed."""
    values = {"journey": "minimal"}
    for n in range(len(re.findall(r'<select id="col-', page))):
        values[f"col-{n}"] = selected(page, n)
    values.update(changes)
    return values


def run_import(client: FlaskClient, uid: str, values: dict[str, str], poller: FlaskClient) -> str:
    """Start the import, poll its progress from `poller` until done, return the last fragment."""
    response = client.post(f"/imports/{uid}/run", data=values)
    assert response.status_code == 302, response.get_data(as_text=True)
    run_id = response.headers["Location"].rsplit("/", 1)[1]
    for _ in range(300):
        page = poller.get(f"/imports/runs/{run_id}", headers={"HX-Request": "true"})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        if "every 500ms" not in text:
            return text
        time.sleep(0.1)
    raise AssertionError("the import did not finish")


def count(text: str, name: str) -> int:
    found = re.search(rf'<span class="{name}">(\d+)</span>', text)
    assert found is not None, text
    return int(found.group(1))


def cases(app: Flask) -> int:
    with app.app_context(), get_db().transaction() as session:
        return int(session.scalar(select(func.count(CaseRow.id))) or 0)


def test_viewers_cannot_import(viewer: FlaskClient) -> None:
    assert viewer.get("/imports").status_code == 403
    assert upload(viewer, GOOD_AND_BAD.encode()).status_code == 403


def test_the_nav_links_to_the_import_for_managers(manager: FlaskClient) -> None:
    assert 'href="/imports"' in manager.get("/cases").get_data(as_text=True)


def test_columns_are_prefilled_from_names_and_aliases(
    manager: FlaskClient, published: None
) -> None:
    page = manager.get(f"/imports/{upload_id(upload(manager, GOOD_AND_BAD.encode()))}")
    text = page.get_data(as_text=True)
    assert [selected(text, n) for n in range(7)] == [
        "external_id",
        "debtor_name",
        "country",
        "currency",
        "amount",
        "due_date",
        "",
    ]


def test_the_preview_names_errors_by_line_and_column(manager: FlaskClient, published: None) -> None:
    text = manager.get(f"/imports/{upload_id(upload(manager, GOOD_AND_BAD.encode()))}").get_data(
        as_text=True
    )
    row = re.search(r'<tr class="row-error">.*?</tr>', text, re.S)
    assert row is not None
    assert '<td class="num">3</td>' in row.group(0)
    assert "<strong>Amount</strong>: &#39;1.234&#39; is ambiguous" in row.group(0)
    assert text.count('class="cell-error"') == 1


def test_the_preview_names_a_quote_left_open_and_shows_the_rows_after_it(
    manager: FlaskClient, published: None
) -> None:
    # Issue 15, point 9c: INV-2's open quote swallowed INV-3.
    csv = GOOD_AND_BAD.replace("INV-2;Max Muster;", 'INV-2;"Max Muster;')
    text = manager.get(f"/imports/{upload_id(upload(manager, csv.encode()))}").get_data(
        as_text=True
    )
    row = re.search(r'<tr class="row-error">.*?</tr>', text, re.S)
    assert row is not None
    assert '<td class="num">3</td>' in row.group(0)
    assert "opens a cell that is not closed before line 4" in row.group(0)
    assert "Anna Beispiel" in text


def test_a_changed_mapping_refreshes_the_preview(manager: FlaskClient, published: None) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    fragment = manager.post(f"/imports/{uid}/preview", data=form(page, **{"col-1": ""}))
    assert "no column for debtor_name" in fragment.get_data(as_text=True)


def test_import_sums_up_and_a_rerun_changes_nothing(
    app: Flask, manager: FlaskClient, elsewhere: FlaskClient, published: None
) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    values = form(manager.get(f"/imports/{uid}").get_data(as_text=True))
    first = run_import(manager, uid, values, poller=elsewhere)
    summary = [count(first, name) for name in ("imported", "unchanged", "errors")]
    assert summary == [2, 0, 1]
    assert re.search(r'<td class="num">3</td><td>Amount</td><td>[^<]*ambiguous', first)
    again = run_import(manager, upload_id(upload(manager, GOOD_AND_BAD.encode())), values, manager)
    assert (count(again, "imported"), count(again, "unchanged")) == (0, 2)
    assert cases(app) == 2


def test_every_step_after_the_upload_works_on_another_worker(
    app: Flask, manager: FlaskClient, elsewhere: FlaskClient, published: None
) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    page = elsewhere.get(f"/imports/{uid}").get_data(as_text=True)
    assert selected(page, 0) == "external_id"
    fragment = elsewhere.post(f"/imports/{uid}/preview", data=form(page, **{"col-1": ""}))
    assert "no column for debtor_name" in fragment.get_data(as_text=True)
    done = run_import(elsewhere, uid, form(page), poller=manager)
    assert count(done, "imported") == 2 and cases(app) == 2


def test_the_summary_counts_every_error_and_lists_the_first(
    manager: FlaskClient, elsewhere: FlaskClient, published: None
) -> None:
    bad = [f"INV-{n};Name {n};DE;EUR;not money;2026-11-01;" for n in range(SHOWN_ERRORS + 5)]
    uid = upload_id(upload(manager, "\n".join([HEADER, *bad]).encode()))
    done = run_import(
        manager, uid, form(manager.get(f"/imports/{uid}").get_data(as_text=True)), elsewhere
    )
    assert (count(done, "imported"), count(done, "errors")) == (0, SHOWN_ERRORS + 5)
    assert done.count('<td class="num">') == SHOWN_ERRORS and "… and 5 more errors." in done


def test_an_xlsx_workbook_imports(app: Flask, manager: FlaskClient, published: None) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["external_id", "debtor_name", "country", "currency", "amount", "due_date"])
    sheet.append(["X-1", "Erika Mustermann", "DE", "EUR", 120.5, datetime(2026, 11, 1)])
    sheet.append(["X-2", "Max Muster", "DE", "EUR", 99, date(2026, 11, 2)])
    sheet.append(["X-3", "", "DE", "EUR", 10, date(2026, 11, 3)])
    content = io.BytesIO()
    book.save(content)
    uid = upload_id(upload(manager, content.getvalue(), "cases.xlsx"))
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    assert "120.5" in page and "2026-11-01" in page
    done = run_import(manager, uid, form(page), poller=manager)
    assert (count(done, "imported"), count(done, "errors")) == (2, 1)
    assert '<td class="num">4</td><td>debtor_name</td>' in done  # row 4 of the sheet
    with app.app_context(), get_db().transaction() as session:
        row = session.scalar(select(CaseRow).where(CaseRow.external_id == "X-1"))
        assert row is not None and (str(row.amount_original), row.due_date) == (
            "120.50",
            date(2026, 11, 1),
        )


def test_the_mapping_is_remembered_for_the_same_header_by_every_worker(
    app: Flask, manager: FlaskClient, elsewhere: FlaskClient, published: None
) -> None:
    csv = "Rechnung,Kunde,Land,Waehrung,Betrag,Faellig\nR-1,Erika,DE,EUR,10.00,2026-11-01\n"
    uid = upload_id(upload(manager, csv.encode()))
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    assert selected(page, 1) == ""  # 'Kunde' is not a known name
    chosen = {
        "col-0": "external_id",
        "col-1": "debtor_name",
        "col-2": "country",
        "col-3": "currency",
        "col-4": "amount",
        "col-5": "due_date",
    }
    done = run_import(manager, uid, {"journey": "minimal", **chosen}, poller=manager)
    assert count(done, "imported") == 1
    other = "Rechnung,Kunde,Land,Waehrung,Betrag,Faellig\nR-2,Max,DE,EUR,20.00,2026-11-01\n"
    page = elsewhere.get(f"/imports/{upload_id(upload(elsewhere, other.encode()))}")
    text = page.get_data(as_text=True)
    assert [selected(text, n) for n in range(6)] == list(chosen.values())


def test_a_remembered_mapping_is_the_users_own(
    app: Flask, manager: FlaskClient, published: None
) -> None:
    # Issue 15, point 9d: one user's mapping prefilled everyone's import of the same header.
    csv = "Rechnung,Kunde,Land,Waehrung,Betrag,Faellig\nR-1,Erika,DE,EUR,10.00,2026-11-01\n"
    uid = upload_id(upload(manager, csv.encode()))
    chosen = {"col-0": "external_id", "col-1": "debtor_name", "col-2": "country"}
    chosen |= {"col-3": "currency", "col-4": "amount", "col-5": "due_date"}
    run_import(manager, uid, {"journey": "minimal", **chosen}, poller=manager)
    admin = login(app.test_client(), "admin")
    page = admin.get(f"/imports/{upload_id(upload(admin, csv.encode()))}").get_data(as_text=True)
    assert selected(page, 1) == ""  # not the manager's debtor_name
    with app.app_context(), get_db().transaction() as session:
        rows = session.scalars(select(ImportMappingRow)).all()
        assert len(rows) == 1 and rows[0].columns["Kunde"] == "debtor_name"


def test_a_mapping_remembered_before_it_was_per_user_is_everyones_default(
    app: Flask, manager: FlaskClient, published: None
) -> None:
    csv = "Rechnung,Kunde,Land,Waehrung,Betrag,Faellig\nR-1,Erika,DE,EUR,10.00,2026-11-01\n"
    uid = upload_id(upload(manager, csv.encode()))
    with app.app_context(), get_db().transaction() as session:
        header = ["Rechnung", "Kunde", "Land", "Waehrung", "Betrag", "Faellig"]
        signature = Upload("x", "cases.csv", csv, header, user_id=0).signature
        session.add(
            ImportMappingRow(
                user_id=None,
                signature=signature,
                columns={"Kunde": "debtor_name"},
                journey="minimal",
                updated_at=datetime(2026, 12, 1),
            )
        )
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    assert (selected(page, 0), selected(page, 1)) == ("", "debtor_name")
    chosen = {"col-0": "external_id", "col-1": "debtor_name", "col-2": "country"}
    chosen |= {"col-3": "currency", "col-4": "amount", "col-5": "due_date"}
    run_import(manager, uid, {"journey": "minimal", **chosen}, poller=manager)
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    assert selected(page, 0) == "external_id"  # the manager's own, before the shared one
    admin = login(app.test_client(), "admin")
    page = admin.get(f"/imports/{upload_id(upload(admin, csv.encode()))}").get_data(as_text=True)
    assert (selected(page, 0), selected(page, 1)) == ("", "debtor_name")  # the shared one


def test_a_changed_mapping_replaces_the_remembered_one(
    app: Flask, manager: FlaskClient, published: None
) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    values = form(manager.get(f"/imports/{uid}").get_data(as_text=True))
    run_import(manager, uid, values, poller=manager)
    run_import(manager, uid, {**values, "col-6": "attributes.notes"}, poller=manager)
    with app.app_context(), get_db().transaction() as session:
        rows = session.scalars(select(ImportMappingRow)).all()
        assert [(r.columns["Notes"], r.journey) for r in rows] == [("attributes.notes", "minimal")]


def test_the_progress_fragment_polls_every_500_ms(app: Flask, elsewhere: FlaskClient) -> None:
    with app.app_context(), get_db().transaction() as session:
        params = {"filename": "cases.csv", "journey": "minimal"}
        job = create_job(session, "import", _manager_id(app), utcnow(), params, total=4000)
    with app.app_context():
        record_progress(get_db(), job.id, 1000, 4000, utcnow())
    response = elsewhere.get(f"/imports/runs/{job.id}", headers={"HX-Request": "true"})
    text = response.get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in text and 'value="25"' in text
    assert "row 1000 of 4000" in text


def test_two_columns_for_one_field_are_refused(manager: FlaskClient, published: None) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    response = manager.post(f"/imports/{uid}/run", data=form(page, **{"col-6": "debtor_name"}))
    assert response.status_code == 422
    assert "both give debtor_name" in response.get_data(as_text=True)
    fragment = manager.post(
        f"/imports/{uid}/run",
        data=form(page, **{"col-6": "debtor_name"}),
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200 and "both give debtor_name" in fragment.get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("Name;Betrag\nMüller;1\n".encode("latin-1"), "cases.csv", "not UTF-8"),
        (b"%PDF-1.4", "cases.pdf", "Only CSV and XLSX"),
        (b"not a zip", "cases.xlsx", "not an XLSX workbook"),
    ],
)
def test_unreadable_files_are_refused(
    manager: FlaskClient, content: bytes, name: str, message: str
) -> None:
    response = upload(manager, content, name)
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_the_import_speaks_german(manager: FlaskClient) -> None:
    manager.post("/lang/de")
    assert "Fälle importieren" in manager.get("/imports").get_data(as_text=True)


def test_the_case_checks_read_in_german_in_the_preview_and_the_summary(
    manager: FlaskClient, published: None
) -> None:
    # Issue 15, point 9f: the currency, date range, '/' and NUL checks were English only.
    csv = "\n".join(
        [
            HEADER,
            "INV/1;Erika Mustermann;DE;EUR;120,50;01.11.2026;",
            "INV-2;Max Muster;DE;XYZ;12,00;2026-11-01;",
            "INV-3;Anna Beispiel;DE;EUR;80.00;9999-12-31;",
        ]
    )
    manager.post("/lang/de")
    uid = upload_id(upload(manager, csv.encode()))
    page = manager.get(f"/imports/{uid}").get_data(as_text=True)
    expected = [
        "Eine ID darf kein &#39;/&#39; enthalten.",
        "Kein Währungscode nach ISO 4217, z. B. EUR.",
        "Das Fälligkeitsdatum muss zwischen 1900-01-01 und 2199-12-31 liegen.",
    ]
    assert [words in page for words in expected] == [True] * 3
    done = run_import(manager, uid, form(page), poller=manager)
    assert [words in done for words in expected] == [True] * 3


def test_a_file_with_a_nul_character_is_refused_naming_the_line(manager: FlaskClient) -> None:
    # PostgreSQL text cannot hold the uploaded file: it was a 500 there.
    response = upload(manager, (GOOD_AND_BAD + "\nINV-4;Nul\x00Name;DE;EUR;1,00;;").encode())
    assert response.status_code == 400
    assert "Line 5 holds a NUL character" in response.get_data(as_text=True)


def test_uploads_and_imports_belong_to_their_user(
    app: Flask, manager: FlaskClient, elsewhere: FlaskClient, published: None
) -> None:
    uid = upload_id(upload(manager, GOOD_AND_BAD.encode()))
    values = form(manager.get(f"/imports/{uid}").get_data(as_text=True))
    run_id = manager.post(f"/imports/{uid}/run", data=values).headers["Location"].rsplit("/", 1)[1]
    run_import(manager, uid, values, poller=elsewhere)  # let the first one finish too
    admin = login(app.test_client(), "admin")
    assert admin.get(f"/imports/{uid}").status_code == 404
    assert admin.post(f"/imports/{uid}/run", data=values).status_code == 404
    assert admin.get(f"/imports/runs/{run_id}").status_code == 404
    assert elsewhere.get(f"/imports/runs/{run_id}").status_code == 200


def test_a_simulation_is_not_an_import(app: Flask, manager: FlaskClient) -> None:
    with app.app_context(), get_db().transaction() as session:
        params = {"key": "minimal", "number": 1, "cases": 1, "days": 1, "seed": 1}
        run_id = create_job(session, "simulation", _manager_id(app), utcnow(), params).id
    assert manager.get(f"/imports/runs/{run_id}").status_code == 404


def test_only_the_newest_uploads_of_a_user_are_kept(app: Flask, manager: FlaskClient) -> None:
    ids = [upload_id(upload(manager, GOOD_AND_BAD.encode())) for _ in range(KEEP + 2)]
    assert [manager.get(f"/imports/{uid}").status_code for uid in ids[:2]] == [404, 404]
    with app.app_context(), get_db().transaction() as session:
        assert set(session.scalars(select(UploadRow.id))) == set(ids[2:])


def _manager_id(app: Flask) -> int:
    from engine.storage.models import UserRow

    with app.app_context(), get_db().transaction() as session:
        found = session.scalar(select(UserRow.id).where(UserRow.email == "manager@example.org"))
        assert found is not None
        return int(found)


@pytest.mark.postgres
def test_a_mapping_is_replaced_in_place_on_postgresql(pg_db: Database) -> None:
    pg_app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": pg_db.url})
    header = ["Invoice No", "Name"]
    kept = Upload("u1", "cases.csv", "Invoice No,Name\n", header, user_id=1)
    try:
        with pg_app.app_context():
            remember(kept, {"Invoice No": "external_id", "Name": ""}, "minimal")
            remember(kept, {"Invoice No": "external_id", "Name": "debtor_name"}, "other")
            assert remembered(kept) == {
                "columns": {"Invoice No": "external_id", "Name": "debtor_name"},
                "journey": "other",
            }
    finally:
        with pg_app.app_context():
            get_db().dispose()
