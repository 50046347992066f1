"""CSV case import: read a host system's export, report bad rows by line, open the good cases.

Choices a user of `mahnwerk import-cases` relies on:
- The file is UTF-8 (a BOM is fine), separated by `,` or `;` (taken from the header line), and
  its first line names the columns. Names match CaseSchema fields case-insensitively, spaces and
  dashes read as `_`, with a few aliases (`id` -> external_id, `name` -> debtor_name ...).
  `attr_<name>` / `attributes.<name>` columns fill `attributes`, typed as the journey declares.
- Amounts: `1234.56`, `1,234.56`, `1234,56` or `1.234,56`; `1.234` and `1,234` are refused as
  ambiguous, and more than two decimal places are refused rather than rounded.
  Dates: `2026-11-01` or `01.11.2026`.
- Without a currency column every case takes the journey's currency (with a warning).
- A file-level problem (not UTF-8, no header, a required column missing, unknown journey)
  raises CaseImportError before anything is written. Row problems are collected as RowErrors
  and the other rows still import, in chunks of CHUNK_SIZE rows per transaction. A quote
  left open (`A2,"Bob,DE,...`) is such a row error, by the quote's line and column, and the
  rows after it are read on their own (`_CsvRecords`); a quoted cell over several lines stays.
- `read_rows` (also the designer's preview) loads rows with CaseSchema restricted to the file's
  columns, so a loaded row holds only the fields the file gives; `case_values` fills the rest.
- Importing is idempotent by external_id: cases that already exist are counted as unchanged
  and never touched, whichever journey they are on.
- XLSX workbooks (the first worksheet, read with openpyxl in read-only mode) become CSV text
  with `xlsx_text`, one line per sheet row, so a line number is the spreadsheet's row number;
  `upload_text` picks by file name. Dates become 2026-11-01, numbers plain (1234.5).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any, TextIO

from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.authoring.lifecycle import JourneyClosed, open_for_cases
from engine.intake.cases import CaseSchema, audit_opened, case_values
from engine.intake.debtors import resolve_debtors
from engine.storage.db import Database
from engine.storage.models import CaseRow, VersionRow

CHUNK_SIZE = 1_000
ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# A file's columns are flat: the debtor is named by its customer id column (`debtor_id`), and
# the row's contact data is the debtor's (engine/intake/debtors.py).
CASE_FIELDS: tuple[str, ...] = tuple(
    n for n in CaseSchema().fields if n not in ("attributes", "debtor")
)
REQUIRED_FIELDS: tuple[str, ...] = tuple(n for n, f in CaseSchema().fields.items() if f.required)
AMOUNT_FIELDS = frozenset({"amount", "amount_open"})
ALIASES: dict[str, str] = {
    "id": "external_id",
    "invoice_id": "external_id",
    "invoice_no": "external_id",
    "invoice_number": "external_id",
    "case_id": "external_id",
    "name": "debtor_name",
    "debtor": "debtor_name",
    "customer": "debtor_name",
    "customer_name": "debtor_name",
    "amount_due": "amount",
    "amount_original": "amount",
    "total": "amount",
    "open_amount": "amount_open",
    "balance": "amount_open",
    "outstanding": "amount_open",
    "due": "due_date",
    "due_on": "due_date",
    "e_mail": "email",
    "email_address": "email",
    "mobile": "phone",
    "phone_number": "phone",
    "zip": "postcode",
    "zip_code": "postcode",
    "postal_code": "postcode",
    "country_code": "country",
    "time_zone": "timezone",
    "language": "locale",
    "ref": "reference",
    "invoice_reference": "reference",
    "customer_id": "debtor_id",
    "customer_no": "debtor_id",
    "customer_number": "debtor_id",
    "debtor_no": "debtor_id",
    "debtor_number": "debtor_id",
    "account_id": "debtor_id",
    "account_number": "debtor_id",
    "kundennummer": "debtor_id",
}
# marshmallow's words where plainer ones exist for a CSV cell.
PLAIN_MESSAGES: dict[tuple[str | None, str], str] = {
    (None, "Missing data for required field."): "A value is required, but the cell is empty.",
}
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "ja", "j", "wahr", "x"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "nein", "falsch"})
GERMAN_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
AMOUNT_FORMS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    # (pattern, thousands separator to drop, decimal separator to make a dot)
    (re.compile(r"^-?\d+(\.\d+)?$"), "", "."),
    (re.compile(r"^-?\d+,\d+$"), "", ","),
    (re.compile(r"^-?\d{1,3}(\.\d{3})+,\d+$|^-?\d{1,3}(\.\d{3}){2,}$"), ".", ","),
    (re.compile(r"^-?\d{1,3}(,\d{3})+\.\d+$|^-?\d{1,3}(,\d{3}){2,}$"), ",", "."),
)
AMBIGUOUS_AMOUNT = re.compile(r"^-?\d{1,3}[.,]\d{3}$")


class CaseImportError(ValueError):
    """The file or the journey makes the whole import impossible; nothing was imported."""


@dataclass(frozen=True)
class RowError:
    """One problem in one row, named by the file's line number and the column's header."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column is None:
            return f"line {self.line}: {self.message}"
        return f"line {self.line}, column '{self.column}': {self.message}"


@dataclass(frozen=True)
class ParsedRow:
    """A data row: its cells, the loaded case (None when it has errors) and its errors."""

    line: int
    cells: dict[str, str]
    data: dict[str, Any] | None
    errors: list[RowError]


@dataclass
class CaseFile:
    """An opened CSV file: which column feeds which field, warnings, and its rows (lazily)."""

    columns: dict[str, str]
    warnings: list[str]
    total: int
    rows: Iterator[ParsedRow]


@dataclass
class ImportReport:
    """What an import did: counts, row errors and file warnings."""

    imported: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence for the CLI and the designer."""
        return (
            f"{self.imported} imported, {self.unchanged} unchanged, "
            f"{len(self.errors)} errors, {len(self.warnings)} warnings"
        )


def import_cases(
    db: Database,
    source: str | Path | TextIO,
    journey_key: str,
    now: datetime,
    column_map: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Open a case at the published version of `journey_key` for every good row of a CSV file."""
    version = _published(db, journey_key)
    document = version.document
    case_file = read_rows(
        source,
        attributes={a["name"]: a["type"] for a in document.get("attributes", [])},
        column_map=column_map,
        default_currency=document.get("currency"),
    )
    report = ImportReport(warnings=list(case_file.warnings))
    done = 0
    for chunk in _chunks(case_file.rows, CHUNK_SIZE):
        good = []
        for row in chunk:
            report.errors.extend(row.errors)
            if row.data is not None:
                good.append(row.data)
        imported = _insert_chunk(db, good, version, now)
        report.imported += imported
        report.unchanged += len(good) - imported
        done += len(chunk)
        if progress is not None:
            progress(done, case_file.total)
    return report


def read_rows(
    source: str | Path | TextIO,
    attributes: dict[str, str] | None = None,
    column_map: dict[str, str] | None = None,
    default_currency: str | None = None,
) -> CaseFile:
    """Open a CSV file of cases: map its header, count its rows; rows parse lazily."""
    text = _read_text(source)
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    total = _count_rows(text, delimiter)
    reader = _CsvRecords(text, delimiter)
    header = reader.header()
    if not any(header):
        raise CaseImportError("The file is empty: its first line must name the columns.")
    columns, warnings = _map_columns(header, attributes or {}, column_map or {})
    defaults: dict[str, Any] = {}
    if "currency" not in columns.values() and default_currency:
        defaults["currency"] = default_currency
        warnings.append(f"No currency column: every case is in {default_currency}.")
    _require_columns(columns, defaults)
    rows = _parse_rows(reader, header, columns, attributes or {}, defaults)
    return CaseFile(columns=columns, warnings=warnings, total=total, rows=rows)


def _published(db: Database, journey_key: str) -> VersionRow:
    """The version new cases start on, or a CaseImportError saying why there is none.

    Only a live journey takes new cases: not one that is paused or retired.
    """
    with db.transaction() as session:
        try:
            version = open_for_cases(session, journey_key)
        except JourneyClosed as exc:
            if exc.state == "draft":
                raise CaseImportError(
                    f"Journey '{journey_key}' has no published version to start cases on."
                ) from exc
            raise CaseImportError(str(exc)) from exc
        if version is not None:
            return version
    raise CaseImportError(f"There is no journey '{journey_key}'.")


def _read_text(source: str | Path | TextIO) -> str:
    """The whole file as text, so a bad encoding stops the import before anything is written."""
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CaseImportError(f"Cannot read {path}: {exc.strerror}.") from exc
        return decode_csv(raw)
    try:
        return source.read()
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from exc


def decode_csv(raw: bytes) -> str:
    """CSV bytes as text (UTF-8, a BOM is fine), or a CaseImportError naming the line."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(exc) from exc


def _not_utf8(exc: UnicodeDecodeError) -> CaseImportError:
    line = exc.object[: exc.start].count(b"\n") + 1
    return CaseImportError(
        f"The file is not UTF-8 text (line {line}); save it as CSV UTF-8 and try again."
    )


def upload_text(filename: str, raw: bytes) -> str:
    """An uploaded file as CSV text for read_rows: .xlsx through xlsx_text, anything else CSV."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        return xlsx_text(io.BytesIO(raw))
    return decode_csv(raw)


def xlsx_text(source: str | Path | IO[bytes]) -> str:
    """The first worksheet of an XLSX workbook as CSV text, one line per sheet row."""
    try:
        from openpyxl import load_workbook
    except ImportError as exc:  # pragma: no cover - openpyxl is a dependency
        raise CaseImportError("Reading XLSX files needs openpyxl (pip install openpyxl).") from exc
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise CaseImportError(
            "The file is not an XLSX workbook; save it as Excel Workbook (.xlsx) or CSV UTF-8."
        ) from exc
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    try:
        if not workbook.worksheets:
            raise CaseImportError("The workbook has no worksheet.")
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            cells = [_xlsx_cell(v) for v in values]
            while cells and cells[-1] == "":
                cells.pop()
            writer.writerow(cells)  # an empty row stays an (ignored) empty line
    finally:
        workbook.close()
    return out.getvalue()


def _xlsx_cell(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    # One sheet row is one line: line breaks inside a cell become spaces.
    return " ".join(str(value).splitlines())


def file_header(text: str) -> list[str]:
    """The column names of CSV text (its first line), as read_rows reads them."""
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    except csv.Error as exc:
        raise CaseImportError(f"The file is not readable as CSV: {exc}.") from exc


def guess_field(column: str) -> str | None:
    """The case field a column name stands for (name, alias or attr_ prefix), if any."""
    return _resolve(column)


def _count_rows(text: str, delimiter: str) -> int:
    """Data rows in the file (blank lines not counted), as read_rows will read them."""
    records = _CsvRecords(text, delimiter)
    records.header()
    return sum(1 for _, cells, broken in records if cells or broken)


class _CsvRecords:
    """The file's CSV records with their first line; a quote left open is reported, not followed.

    `csv` reads a cell that opens a quote (`"`) up to the next quote anywhere in the file, so
    one forgotten quote swallowed the rows after it silently. A record spanning lines is
    therefore looked at: when a following line reads on its own as a whole row (all of the
    header's cells, its quotes balanced), the quote was left open. The record is reported as
    broken (`RowError` naming the line and column of the quote) and reading goes on at that
    line; so it does for a quote still open at the end of the file and for what `csv` refuses
    (a cell over its field size limit). A quoted cell over several lines (an address) stays one.
    """

    def __init__(self, text: str, delimiter: str) -> None:
        self.lines = io.StringIO(text, newline="").readlines()
        self.delimiter = delimiter
        self.names: list[str] = []
        self._resume(0)

    def _resume(self, pos: int) -> None:
        """Read on from line index `pos` with a fresh reader (csv keeps state within a record)."""
        self.pos = pos
        self.reader = csv.reader(self._feed(), delimiter=self.delimiter)

    def _feed(self) -> Iterator[str]:
        while self.pos < len(self.lines):
            self.pos += 1
            yield self.lines[self.pos - 1]

    def header(self) -> list[str]:
        """The column names (the first record); later records are checked against them."""
        self.names = [h.strip().lstrip("\ufeff") for h in next(self.reader, [])]
        return self.names

    def __iter__(self) -> Iterator[tuple[int, list[str], RowError | None]]:
        """(first line, cells, why the record is broken or None); blank lines have no cells."""
        while True:
            start = self.pos
            try:
                record = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over csv's field size limit
                yield start + 1, [], self._open_quote(start, f"Not readable as CSV: {exc}.")
                continue
            last = self.lines[self.pos - 1]
            if self.pos - start > 1 or (self.pos == len(self.lines) and '"' in last):
                broken = self._open_quote(start)
                if broken is not None:
                    yield start + 1, [], broken
                    continue
            yield start + 1, record, None

    def _open_quote(self, start: int, failed: str | None = None) -> RowError | None:
        """The error for a quote the record from line index `start` leaves open, or None;
        `failed` is what csv said when it gave up on the record. Reading resumes after it."""
        lines = self.lines[start : self.pos]
        whole = next((start + j for j, line in enumerate(lines[1:], 1) if self._whole(line)), None)
        if whole is not None:
            until = f"line {whole + 1}, which reads as a row of its own"
            found = _open_cell("".join(self.lines[start:whole]), self.delimiter)
        else:
            until = "the end of the file"
            found = _open_cell("".join(lines), self.delimiter)
            if failed is None and (self.pos < len(self.lines) or found is None):
                return None  # a quoted cell over several lines, closed
        line, column, where = start, None, ""
        if found is not None:
            cell, offset = found
            column = self.names[cell] if cell < len(self.names) else None
            while offset >= len(self.lines[line]):  # the line and character of the open quote
                offset -= len(self.lines[line])
                line += 1
            where = f" at character {offset + 1}"
        self._resume(whole if whole is not None else max(line + 1, start + 1))
        if failed is not None and whole is None:
            return RowError(start + 1, None, failed)
        return RowError(
            line + 1,
            column,
            f'The quote (")'
            f"{where} opens a cell that is not closed before {until}; this row is not "
            'imported. Close the quote, or write a quote inside a cell as "".',
        )

    def _whole(self, line: str) -> bool:
        """Whether a line reads on its own as a whole row: quotes balanced, every column."""
        if line.count('"') % 2:
            return False
        return len(next(csv.reader([line], delimiter=self.delimiter), [])) == len(self.names)


def _open_cell(text: str, delimiter: str) -> tuple[int, int] | None:
    """(cell index, offset of its quote) of a quoted cell still open at the end of `text`."""
    i, cell = 0, 0
    while i < len(text):
        if text[i] == '"':  # a cell that starts with a quote runs to the closing one
            opened, i = i, i + 1
            while True:
                end = text.find('"', i)
                if end < 0:
                    return cell, opened
                if text.startswith('"', end + 1):  # "" is a quote inside the cell
                    i = end + 2
                    continue
                i = end + 1
                break
        end = text.find(delimiter, i)  # the rest of the cell, quotes in it taken as they are
        if end < 0:
            return None
        i, cell = end + 1, cell + 1
    return None


def _canonical(name: str) -> str:
    """A header as we compare it: lower case, spaces and dashes as underscores."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _resolve(name: str) -> str | None:
    """The field a column name stands for: a case field, an alias or an attribute."""
    name = _canonical(name)
    if name in CASE_FIELDS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    for prefix in ("attr_", "attributes.", "attribute."):
        if name.startswith(prefix):
            return "attributes." + name.removeprefix(prefix)
    return None


def _map_columns(
    header: list[str], attributes: dict[str, str], column_map: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Header -> field; unknown columns become one warning each, clashes a CaseImportError."""
    wanted = {_canonical(k): v for k, v in column_map.items()}
    columns: dict[str, str] = {}
    warnings = [
        f"The column map names '{k}', but the file has no such column."
        for k in column_map
        if _canonical(k) not in {_canonical(h) for h in header}
    ]
    for header_name in header:
        mapped = wanted.get(_canonical(header_name))
        if mapped == "":
            continue  # the caller chose to skip this column
        target = _resolve(mapped if mapped is not None else header_name)
        if target is None and mapped is not None:
            raise CaseImportError(f"Column '{header_name}' is mapped to unknown field '{mapped}'.")
        if target is None:
            warnings.append(
                f"Column '{header_name}' is not a case field and is ignored."
                if header_name
                else "A column without a name is ignored."
            )
            continue
        warnings.extend(_attribute_warning(header_name, target, attributes))
        clash = next((h for h, t in columns.items() if t == target), None)
        if clash is not None:
            raise CaseImportError(f"Columns '{clash}' and '{header_name}' both give {target}.")
        columns[header_name] = target
    return columns, warnings


def _attribute_warning(header_name: str, target: str, attributes: dict[str, str]) -> list[str]:
    """Refuse a bad attribute name; warn when the journey does not declare the attribute."""
    if not target.startswith("attributes."):
        return []
    attr = target.removeprefix("attributes.")
    if not ATTRIBUTE_NAME.match(attr):
        raise CaseImportError(f"Column '{header_name}': '{attr}' is not an attribute name.")
    if attr in attributes:
        return []
    return [
        f"Column '{header_name}': the journey does not declare attribute '{attr}'; "
        "it is imported as text."
    ]


def _require_columns(columns: dict[str, str], defaults: dict[str, Any]) -> None:
    """Refuse a file that lacks a required field's column: every row would fail the same way."""
    present = set(columns.values()) | set(defaults)
    missing = [f for f in REQUIRED_FIELDS if f not in present]
    if missing:
        raise CaseImportError(
            "The file has no column for " + ", ".join(missing) + "; the first line must name "
            "the columns (e.g. external_id, debtor_name, country, currency, amount, due_date)."
        )


def _parse_rows(
    reader: _CsvRecords,
    header: list[str],
    columns: dict[str, str],
    attributes: dict[str, str],
    defaults: dict[str, Any],
) -> Iterator[ParsedRow]:
    """Parse each record; a repeated external_id is an error on its second line."""
    loader = _RowLoader(columns, attributes, defaults)
    seen: dict[str, int] = {}
    id_column = loader.column_of.get("external_id", "")
    pending: list[tuple[int, dict[str, str], list[RowError]]] = []
    for line, record, broken in reader:
        if broken is not None:  # a quote left open: reported alone, the rows after it read on
            yield from loader.load(pending)
            pending = []
            yield ParsedRow(line, {}, None, [broken])
            continue
        if not record:
            continue
        cells = dict(zip(header, (c.strip() for c in record), strict=False))
        errors: list[RowError] = []
        if any(c.strip() for c in record[len(header) :]):
            errors.append(RowError(line, None, "The row has more cells than the header."))
        external_id = cells.get(id_column, "")
        if external_id in seen:
            message = f"external_id '{external_id}' is already on line {seen[external_id]}."
            errors.append(RowError(line, id_column, message))
        elif external_id:
            seen[external_id] = line
        pending.append((line, cells, errors))
        if len(pending) == CHUNK_SIZE:
            yield from loader.load(pending)
            pending = []
    yield from loader.load(pending)


class _RowLoader:
    """Turns rows' cells into loaded cases, or into RowErrors naming the columns."""

    def __init__(
        self, columns: dict[str, str], attributes: dict[str, str], defaults: dict[str, Any]
    ) -> None:
        # Only the fields the file has (and the required ones): a third less work per row, and
        # case_values fills what is absent. Loaded rows therefore lack the absent fields.
        given = {t.split(".")[0] for t in columns.values()} | set(defaults)
        self.schema = CaseSchema(only=sorted(given | set(REQUIRED_FIELDS)))
        self.columns = columns
        self.column_of = {t: h for h, t in columns.items()}
        self.attributes = attributes
        self.defaults = defaults

    def load(self, rows: list[tuple[int, dict[str, str], list[RowError]]]) -> list[ParsedRow]:
        """Load many rows through CaseSchema at once (a quarter faster than one by one)."""
        if not rows:
            return []
        prepared = [self._prepare(line, cells, errors) for line, cells, errors in rows]
        try:
            loaded = self.schema.load([raw for raw, _ in prepared], many=True)
            return [
                ParsedRow(line, cells, None if errors else data, errors)
                for (line, cells, errors), data in zip(rows, loaded, strict=True)
            ]
        except ValidationError:
            # With many=True one field error anywhere skips the schema validators (phone,
            # open amount) for every row, so a chunk with errors is loaded again row by row.
            return [
                self._load_one(line, cells, errors, raw, failed)
                for (line, cells, errors), (raw, failed) in zip(rows, prepared, strict=True)
            ]

    def _load_one(
        self,
        line: int,
        cells: dict[str, str],
        errors: list[RowError],
        raw: dict[str, Any],
        failed: set[str],
    ) -> ParsedRow:
        """Load one prepared row; its errors name the file's columns."""
        data: dict[str, Any] | None = None
        try:
            data = self.schema.load(raw)
        except ValidationError as exc:
            # A cell we could not convert is already reported; skip "required" for it.
            found = {k: v for k, v in dict(exc.messages).items() if k not in failed}
            errors.extend(self._errors(line, found))
        return ParsedRow(line, cells, None if errors else data, errors)

    def _prepare(
        self, line: int, cells: dict[str, str], errors: list[RowError]
    ) -> tuple[dict[str, Any], set[str]]:
        """The row as CaseSchema input, and the fields whose cells could not be converted."""
        raw: dict[str, Any] = dict(self.defaults)
        attrs: dict[str, Any] = {}
        failed: set[str] = set()
        for header_name, target in self.columns.items():
            value = cells.get(header_name, "")
            if value == "":
                continue  # an absent value: defaults apply, required fields fail
            try:
                if target.startswith("attributes."):
                    name = target.removeprefix("attributes.")
                    attrs[name] = _attribute(value, self.attributes.get(name, "string"))
                else:
                    raw[target] = _cell(target, value)
            except ValueError as exc:
                errors.append(RowError(line, header_name, str(exc)))
                failed.add(target)
        if attrs:
            raw["attributes"] = attrs
        return raw, failed

    def _errors(self, line: int, messages: dict[str, Any]) -> list[RowError]:
        """marshmallow's error dict for one row as RowErrors naming the file's columns."""
        errors: list[RowError] = []
        for name, found in messages.items():
            if name == "attributes" and isinstance(found, dict):
                errors.extend(
                    RowError(line, self.column_of.get(f"attributes.{a}"), _words(None, m))
                    for a, m in found.items()
                )
            elif name == "_schema":
                errors.append(RowError(line, None, _words(None, found)))
            else:
                errors.append(RowError(line, self.column_of.get(name, name), _words(name, found)))
        return errors


def _cell(target: str, value: str) -> str:
    """A cell as CaseSchema expects it: German numbers and dates turned into standard ones."""
    if target in AMOUNT_FIELDS:
        return parse_amount(value)
    if target == "due_date":
        match = GERMAN_DATE.match(value)
        if match:
            day, month, year = match.groups()
            return f"{year}-{int(month):02d}-{int(day):02d}"
        return value
    if target in ("country", "currency"):
        return value.upper()
    if target == "debtor_type":
        return value.lower()
    return value


def parse_amount(value: str) -> str:
    """An amount in English or German notation as a plain decimal string, or ValueError."""
    text = value.replace("\u00a0", "").replace(" ", "")
    if AMBIGUOUS_AMOUNT.match(text):
        raise ValueError(f"'{value}' is ambiguous: write 1234.00 or 1.234,00.")
    for pattern, thousands, decimal in AMOUNT_FORMS:
        if pattern.match(text):
            plain = text.replace(thousands, "") if thousands else text
            plain = plain.replace(decimal, ".")
            if "." in plain and len(plain.split(".")[1]) > 2:
                raise ValueError(f"'{value}' has more than two decimal places.")
            return plain
    raise ValueError(f"'{value}' is not an amount: write 1234.56 or 1.234,56.")


def _attribute(value: str, kind: str) -> Any:
    """An attribute cell typed as the journey declares it (number, boolean or string)."""
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        word = value.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"'{value}' is not yes or no (use true/false, yes/no or 1/0).")
    return value


def _number(value: str) -> int | float:
    """A number in English or German notation; JSON int or float, as rules compare numbers."""
    text = value.replace("\u00a0", "").replace(" ", "")
    if "," in text and ("." not in text or text.rfind(",") > text.rfind(".")):
        text = text.replace(".", "").replace(",", ".")  # German: 1.234,5
    else:
        text = text.replace(",", "")  # English: 1,234.5
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number.") from None
    if not number.is_finite():
        raise ValueError(f"'{value}' is not a number.")
    return int(number) if number == number.to_integral_value() else float(number)


def _words(name: str | None, found: Any) -> str:
    """marshmallow's messages for one field as one sentence or a few."""
    items = found if isinstance(found, list) else [found]
    texts = [str(m) for m in items]
    return " ".join(PLAIN_MESSAGES.get((name, t), PLAIN_MESSAGES.get((None, t), t)) for t in texts)


def _insert_chunk(
    db: Database, rows: list[dict[str, Any]], version: VersionRow, now: datetime
) -> int:
    """Insert the rows whose external_id is new; returns how many were inserted."""
    if not rows:
        return 0
    try:
        with db.transaction() as session:
            return _insert_new(session, rows, version, now)
    except IntegrityError:
        # Another import inserted some of these ids meanwhile: look again, once.
        with db.transaction() as session:
            return _insert_new(session, rows, version, now)


def _insert_new(
    session: Session, rows: list[dict[str, Any]], version: VersionRow, now: datetime
) -> int:
    """One query for the ids that exist, one multi-row insert for the rest."""
    ids = [r["external_id"] for r in rows]
    existing = set(session.scalars(select(CaseRow.external_id).where(CaseRow.external_id.in_(ids))))
    new = [r for r in rows if r["external_id"] not in existing]
    resolve_debtors(session, new, now, "import")
    values = [case_values(r, version, now) for r in new]
    if values:
        # The table, not the entity: the ORM's bulk path adds a tenth for nothing we need here.
        session.execute(insert(CaseRow.__table__), values)
        audit_opened(session, [v["external_id"] for v in values], now, "import")
    return len(values)


def _chunks(rows: Iterator[ParsedRow], size: int) -> Iterator[list[ParsedRow]]:
    """Rows in lists of at most `size`."""
    chunk: list[ParsedRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
