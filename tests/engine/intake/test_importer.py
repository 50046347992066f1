"""CSV case import: good rows in, bad rows reported by line and column, reruns change nothing."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import Database, save_version
from engine.intake.importer import CaseImportError, RowError, import_cases, parse_amount, read_rows
from engine.storage.models import AuditRow, CaseRow, VersionRow
from tests.factories import example_doc

DATA = Path(__file__).resolve().parent / "data"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HEADER = "external_id,debtor_name,phone,country,currency,amount,due_date"
GERMAN_MAP = {"Rechnungsnummer": "external_id", "Land": "country", "Waehrung": "currency"}


@pytest.fixture
def mem_db() -> Iterator[Database]:
    """A fresh in-memory SQLite database with the schema made by the migrations."""
    database = Database("sqlite:///:memory:")
    database.create_all()
    yield database
    database.dispose()


def _publish(database: Database, doc: dict[str, Any]) -> VersionRow:
    """Store a document as a published version."""
    with database.transaction() as session:
        return save_version(session, doc, NOW, status="published")


@pytest.fixture
def minimal(mem_db: Database) -> VersionRow:
    """journeys_examples/minimal.json, published."""
    return _publish(mem_db, example_doc("minimal"))


def _csv(*lines: str) -> io.StringIO:
    """CSV text as an open file, one argument per line."""
    return io.StringIO("\n".join(lines) + "\n", newline="")


def _cases(database: Database) -> dict[str, CaseRow]:
    """Every case, by external id."""
    with database.transaction() as session:
        return {c.external_id: c for c in session.scalars(select(CaseRow))}


def _count(database: Database) -> int:
    """How many cases there are."""
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(CaseRow)) or 0


def test_good_file_imports_every_row(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    cases = _cases(mem_db)
    assert (report.imported, report.unchanged, report.errors) == (3, 0, [])
    assert sorted(cases) == ["INV-1001", "INV-1002", "INV-1003"]


def test_imported_case_starts_at_the_published_version(
    mem_db: Database, minimal: VersionRow
) -> None:
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    case = _cases(mem_db)["INV-1001"]
    assert (case.version_id, case.node_id, case.status) == (minimal.id, "start", "active")
    assert (case.amount_original, case.amount_open) == (Decimal("120.50"), Decimal("120.50"))
    assert (case.due_date, case.locale, case.timezone) == (
        date(2026, 10, 15),
        "de-DE",
        "Europe/Berlin",
    )


def test_quoted_cell_with_quotes_survives(mem_db: Database, minimal: VersionRow) -> None:
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    assert _cases(mem_db)["INV-1003"].debtor_name == 'Carla "CJ" Jones'


def test_bad_rows_are_reported_by_line_and_column(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(
            HEADER,
            "A1,Anna,,DE,EUR,10.00,2026-10-01",
            "A2,Bob,,DE,EUR,10.00,2026-13-01",
            "A3,,,DE,EUR,10.00,2026-10-01",
            "A4,Dora,,Germany,EUR,10.00,2026-10-01",
            "A5,Emil,,DE,EUR,-5,2026-10-01",
            "A6,Fritz,,DE,EUR,10.00,01.10.2026",
        ),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 3, column 'due_date': Not a valid date.",
        "line 4, column 'debtor_name': A value is required, but the cell is empty.",
        "line 5, column 'country': Use a two-letter country code, e.g. DE.",
        "line 6, column 'amount': Must be greater than 0 and less than or equal to 100000000000.",
    ]


def test_good_rows_import_beside_bad_ones(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(HEADER, "A1,Anna,,DE,EUR,10.00,2026-10-01", "A2,Bob,,DE,EUR,10.00,2026-13-01"),
        "minimal",
        NOW,
    )
    assert (report.imported, sorted(_cases(mem_db))) == (1, ["A1"])


def test_schema_checks_still_run_beside_a_bad_row(mem_db: Database, minimal: VersionRow) -> None:
    # marshmallow skips schema validators for a whole batch when any row has a field error.
    report = import_cases(
        mem_db,
        _csv(HEADER, "A1,Anna,,DE,EUR,10.00,not a date", "A2,Bob,12,DE,EUR,10.00,2026-10-01"),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 2, column 'due_date': Not a valid date.",
        "line 3, column 'phone': Not a valid phone number for the country.",
    ]


def test_phone_is_stored_in_international_form(mem_db: Database, minimal: VersionRow) -> None:
    import_cases(mem_db, _csv(HEADER, "A1,Anna,0151 23456789,DE,EUR,10,2026-10-01"), "minimal", NOW)
    assert _cases(mem_db)["A1"].phone == "+4915123456789"


def test_schema_field_checks_run_for_optional_columns(
    mem_db: Database, minimal: VersionRow
) -> None:
    report = import_cases(
        mem_db,
        _csv(HEADER + ",timezone", "A1,Anna,,DE,EUR,10.00,2026-10-01,Europe/Berlinn"),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 2, column 'timezone': Unknown time zone 'Europe/Berlinn'."
    ]


def test_line_numbers_count_lines_inside_quoted_cells(
    mem_db: Database, minimal: VersionRow
) -> None:
    report = import_cases(
        mem_db,
        _csv(HEADER, 'A1,"Anna', 'Schmidt",,DE,EUR,10.00,2026-10-01', "", "A2,Bob,,DE,EUR,x,"),
        "minimal",
        NOW,
    )
    assert [e.line for e in report.errors] == [5, 5]


def test_a_quote_left_open_is_reported_and_the_rows_after_it_import(
    mem_db: Database, minimal: VersionRow
) -> None:
    # Issue 15, point 9c: the open quote swallowed A3 and A4 into A2's name, silently.
    report = import_cases(
        mem_db,
        _csv(
            HEADER,
            "A1,Anna,,DE,EUR,10.00,2026-10-01",
            'A2,"Bob,,DE,EUR,10.00,2026-10-01',
            "A3,Cleo,,DE,EUR,10.00,2026-10-01",
            'A4,"Dora",,DE,EUR,10.00,2026-10-01',
            'A5,"Emil,,DE,EUR,10.00,2026-10-01',
        ),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 3, column 'debtor_name': The quote (\") at character 4 opens a cell that is not "
        "closed before line 4, which reads as a row of its own; this row is not imported. "
        'Close the quote, or write a quote inside a cell as "".',
        "line 6, column 'debtor_name': The quote (\") at character 4 opens a cell that is not "
        "closed before the end of the file; this row is not imported. "
        'Close the quote, or write a quote inside a cell as "".',
    ]
    cases = _cases(mem_db)
    assert sorted(cases) == ["A1", "A3", "A4"]
    assert cases["A4"].debtor_name == "Dora"


def test_a_quote_left_open_over_the_csv_field_limit_is_one_row_error(
    mem_db: Database, minimal: VersionRow
) -> None:
    # csv gives up on a cell over 128 KB: that ended the whole import before.
    rows = [f"B{i},Name {i},,DE,EUR,10.00,2026-10-01" for i in range(5_000)]
    report = import_cases(
        mem_db, _csv(HEADER, 'A1,Anna,,"DE,EUR,10.00,2026-10-01', *rows), "minimal", NOW
    )
    assert [(e.line, e.column) for e in report.errors] == [(2, "country")]
    assert report.imported == 5_000


def test_a_quoted_cell_over_lines_before_an_open_quote_keeps_its_lines(
    mem_db: Database, minimal: VersionRow
) -> None:
    report = import_cases(
        mem_db,
        _csv(
            HEADER,
            'A1,"Anna',
            'Schmidt",,DE,EUR,10.00,2026-10-01',
            'A2,Bob,,DE,EUR,"10.00,2026-10-01',
            "A3,Cleo,,DE,EUR,10.00,2026-10-01",
        ),
        "minimal",
        NOW,
    )
    assert [(e.line, e.column) for e in report.errors] == [(4, "amount")]
    assert "at character 16" in report.errors[0].message
    assert _cases(mem_db)["A1"].debtor_name == "Anna\nSchmidt"
    assert sorted(_cases(mem_db)) == ["A1", "A3"]


def test_rerun_counts_every_case_unchanged(mem_db: Database, minimal: VersionRow) -> None:
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    report = import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW + timedelta(days=1))
    assert (report.imported, report.unchanged, _count(mem_db)) == (0, 3, 3)


def test_rerun_leaves_rows_untouched(mem_db: Database, minimal: VersionRow) -> None:
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW + timedelta(days=1))
    case = _cases(mem_db)["INV-1001"]
    assert (case.updated_at, case.due_at) == (NOW.replace(tzinfo=None), NOW.replace(tzinfo=None))


def test_semicolons_and_german_numbers_and_dates(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(mem_db, DATA / "cases_de.csv", "minimal", NOW, column_map=GERMAN_MAP)
    cases = _cases(mem_db)
    assert report.errors == []
    assert [(c.amount_original, c.amount_open, c.due_date) for c in cases.values()] == [
        (Decimal("1234.56"), Decimal("1000.00"), date(2026, 11, 1)),
        (Decimal("12.50"), Decimal("12.50"), date(2026, 2, 1)),
        (Decimal("1234567.89"), Decimal("1234567.89"), date(2026, 12, 31)),
    ]


def test_lower_case_country_and_currency_are_accepted(
    mem_db: Database, minimal: VersionRow
) -> None:
    import_cases(mem_db, DATA / "cases_de.csv", "minimal", NOW, column_map=GERMAN_MAP)
    case = _cases(mem_db)["DE-2"]
    assert (case.country, case.currency, case.debtor_name) == ("DE", "EUR", "Jörg Weiß")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234.567", "1234567"),
        ("1 234,5", "1234.5"),
        ("15", "15"),
    ],
)
def test_amount_notations(text: str, plain: str) -> None:
    assert parse_amount(text) == plain


@pytest.mark.parametrize("text", ["1.234", "1,234", "12.345", "1.2345", "12,345", "1e3", "€5"])
def test_ambiguous_or_odd_amounts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text.replace(".", r"\.")):
        parse_amount(text)


def test_unconvertible_amount_is_one_error(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(mem_db, _csv(HEADER, "A1,Anna,,DE,EUR,1.234,2026-10-01"), "minimal", NOW)
    assert [str(e) for e in report.errors] == [
        "line 2, column 'amount': '1.234' is ambiguous: write 1234.00 or 1.234,00."
    ]


def test_duplicate_id_in_file_names_both_lines(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(
            HEADER,
            "A1,Anna,,DE,EUR,10.00,2026-10-01",
            "A2,Bob,,DE,EUR,10.00,2026-10-01",
            "A1,Anna again,,DE,EUR,99.00,2026-10-01",
        ),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 4, column 'external_id': external_id 'A1' is already on line 2."
    ]


def test_duplicate_id_keeps_the_first_row(mem_db: Database, minimal: VersionRow) -> None:
    import_cases(
        mem_db,
        _csv(HEADER, "A1,Anna,,DE,EUR,10.00,2026-10-01", "A1,Other,,DE,EUR,99.00,2026-10-01"),
        "minimal",
        NOW,
    )
    assert _cases(mem_db)["A1"].debtor_name == "Anna"


def test_unknown_journey_is_refused(mem_db: Database, minimal: VersionRow) -> None:
    with pytest.raises(CaseImportError, match="There is no journey 'nope'"):
        import_cases(mem_db, DATA / "cases_good.csv", "nope", NOW)
    assert _count(mem_db) == 0


def test_journey_without_published_version_is_refused(mem_db: Database) -> None:
    with mem_db.transaction() as session:
        save_version(session, example_doc("minimal"), NOW, status="draft")
    with pytest.raises(CaseImportError, match="'minimal' has no published version"):
        import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    assert _count(mem_db) == 0


def test_missing_required_column_imports_nothing(mem_db: Database, minimal: VersionRow) -> None:
    with pytest.raises(CaseImportError, match="no column for due_date"):
        import_cases(mem_db, _csv("id,name,country,amount", "A1,Anna,DE,10"), "minimal", NOW)
    assert _count(mem_db) == 0


def test_file_that_is_not_utf8_imports_nothing(
    mem_db: Database, minimal: VersionRow, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"{HEADER}\nA1,Jörg,,DE,EUR,10,2026-10-01\n".encode("latin-1"))
    with pytest.raises(CaseImportError, match=r"not UTF-8 text \(line 2\)"):
        import_cases(mem_db, path, "minimal", NOW)


def test_empty_file_is_refused(mem_db: Database, minimal: VersionRow) -> None:
    with pytest.raises(CaseImportError, match="empty"):
        import_cases(mem_db, io.StringIO(""), "minimal", NOW)


def test_aliases_map_to_case_fields(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(
            "Invoice_ID,Name,Country,Currency,Amount Due,Due-Date", "A1,Anna,DE,EUR,10,2026-10-01"
        ),
        "minimal",
        NOW,
    )
    assert (report.imported, report.warnings) == (1, [])


def test_unknown_columns_warn_once(mem_db: Database, minimal: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(
            HEADER + ",colour",
            "A1,Anna,,DE,EUR,10.00,2026-10-01,red",
            "A2,Bob,,DE,EUR,10.00,2026-10-01,blue",
        ),
        "minimal",
        NOW,
    )
    assert (report.imported, report.warnings) == (
        2,
        ["Column 'colour' is not a case field and is ignored."],
    )


def test_without_currency_column_the_journey_currency_applies(
    mem_db: Database, minimal: VersionRow
) -> None:
    report = import_cases(
        mem_db,
        _csv("id,name,country,amount,due_date", "A1,Anna,DE,10,2026-10-01"),
        "minimal",
        NOW,
    )
    assert (_cases(mem_db)["A1"].currency, report.warnings) == (
        "EUR",
        ["No currency column: every case is in EUR."],
    )


@pytest.fixture
def with_attributes(mem_db: Database) -> VersionRow:
    """minimal.json declaring a number, a boolean and a string attribute, published."""
    doc = example_doc("minimal")
    doc["attributes"] = [
        {"name": "score", "type": "number"},
        {"name": "vip", "type": "boolean"},
        {"name": "segment", "type": "string"},
    ]
    return _publish(mem_db, doc)


def test_attributes_are_typed_as_declared(mem_db: Database, with_attributes: VersionRow) -> None:
    import_cases(
        mem_db,
        _csv(
            HEADER + ",attr_score,attributes.vip,attr_segment",
            "A1,Anna,,DE,EUR,10.00,2026-10-01,42,yes,retail",
            'A2,Bob,,DE,EUR,10.00,2026-10-01,"0,75",nein,007',
            "A3,Cleo,,DE,EUR,10.00,2026-10-01,,,",
        ),
        "minimal",
        NOW,
    )
    cases = _cases(mem_db)
    assert [cases[k].attributes for k in ("A1", "A2", "A3")] == [
        {"score": 42, "vip": True, "segment": "retail"},
        {"score": 0.75, "vip": False, "segment": "007"},
        {},
    ]


def test_bad_attribute_values_are_reported(mem_db: Database, with_attributes: VersionRow) -> None:
    report = import_cases(
        mem_db,
        _csv(HEADER + ",attr_score,attr_vip", "A1,Anna,,DE,EUR,10.00,2026-10-01,many,perhaps"),
        "minimal",
        NOW,
    )
    assert [str(e) for e in report.errors] == [
        "line 2, column 'attr_score': 'many' is not a number.",
        "line 2, column 'attr_vip': 'perhaps' is not yes or no (use true/false, yes/no or 1/0).",
    ]


def test_undeclared_attribute_is_text_with_a_warning(
    mem_db: Database, with_attributes: VersionRow
) -> None:
    report = import_cases(
        mem_db, _csv(HEADER + ",attr_region", "A1,Anna,,DE,EUR,10,2026-10-01,12"), "minimal", NOW
    )
    assert (_cases(mem_db)["A1"].attributes, report.warnings) == (
        {"region": "12"},
        [
            "Column 'attr_region': the journey does not declare attribute 'region'; "
            "it is imported as text."
        ],
    )


def test_read_rows_previews_without_a_database() -> None:
    case_file = read_rows(DATA / "cases_de.csv", column_map=GERMAN_MAP)
    first = next(case_file.rows)
    assert (case_file.total, first.line, first.data and first.data["amount"]) == (
        3,
        2,
        Decimal("1234.56"),
    )


def test_row_error_without_column_reads_as_a_line() -> None:
    assert str(RowError(3, None, "The row has more cells than the header.")) == (
        "line 3: The row has more cells than the header."
    )


@pytest.mark.slow
def test_twenty_thousand_rows(mem_db: Database, minimal: VersionRow, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = (
        f"INV-{i:06d};Debtor {i};d{i}@example.com;+49 151 2345{i % 10000:04d};DE;EUR;"
        f"{100 + i % 900},{i % 100:02d};{1 + i % 28:02d}.10.2026"
        for i in range(20_000)
    )
    header = "external_id;debtor_name;email;phone;country;currency;amount;due_date"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    calls: list[tuple[int, int]] = []
    started = time.perf_counter()
    report = import_cases(mem_db, path, "minimal", NOW, progress=lambda d, t: calls.append((d, t)))
    print(f"\n20,000 rows imported in {time.perf_counter() - started:.2f} s")
    assert (report.imported, report.errors, _count(mem_db)) == (20_000, [], 20_000)
    assert (len(calls), calls[-1]) == (20, (20_000, 20_000))


def _opened(database: Database) -> list[tuple[str, int, str, dict[str, Any]]]:
    """The 'opened' audit rows: case, version, node and detail."""
    with database.transaction() as session:
        rows = session.execute(
            select(CaseRow.external_id, AuditRow.version_id, AuditRow.node_id, AuditRow.detail)
            .join(CaseRow, CaseRow.id == AuditRow.case_id)
            .where(AuditRow.kind == "opened")
            .order_by(CaseRow.external_id)
        )
        return [tuple(r) for r in rows]


def test_each_imported_case_is_opened_in_the_audit_trail_once(
    mem_db: Database, minimal: VersionRow
) -> None:
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW)
    import_cases(mem_db, DATA / "cases_good.csv", "minimal", NOW + timedelta(days=1))
    assert _opened(mem_db) == [
        (external_id, minimal.id, "start", {"source": "import"})
        for external_id in ("INV-1001", "INV-1002", "INV-1003")
    ]
