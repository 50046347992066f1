"""Bank statements: CAMT.053 (ISO 20022) and MT940 files read into StatementLine records.

Both formats become the same `StatementLine`: one credit or debit booked on the creditor's
account, its amount in integer minor units with the currency, and what the payer wrote
(a structured creditor reference and the unstructured remittance text). Each line carries a
`line_id` that stays the same when the same file, or a later statement repeating the entry,
is read again: the account with the bank's own entry reference where there is one, else the
statement id with a hash of the entry (and its place among identical entries).

Hostile files are refused with a `StatementError` that names the place ("Ntry 3: no Amt",
"line 14: amount 'abc' is not a number"): XML is read with defusedxml, so a DTD, entity
expansion (a "billion laughs" bomb) or an external entity is refused before anything is
expanded or fetched; files above `max_bytes` and statements with more than `max_entries`
entries are refused before they are read whole.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

from babel.numbers import get_currency_precision, is_currency
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from connectors.base import ConnectorError

MAX_BYTES = 8 * 1024 * 1024  # a busy account's day is a few hundred kB
MAX_ENTRIES = 20_000
CAMT_NAMESPACES = {
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02": "camt.053.001.02",
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08": "camt.053.001.08",
}
Format = Literal["camt.053.001.02", "camt.053.001.08", "mt940"]
_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,5})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class StatementError(ConnectorError, ValueError):
    """A statement file that cannot be read; `where` names the line or element."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


@dataclass(frozen=True)
class StatementLine:
    """One booked entry (or one transaction of a batch entry) of a bank statement."""

    line_id: str  # stable across re-reads: sha256 hex of its identifying parts
    account: str  # the statement's account (IBAN, or bank code/account number in MT940)
    statement_id: str
    entry_ref: str  # the bank's reference of the entry, or "" when it gives none
    booking_date: date
    amount_minor: int  # > 0; the direction is `credit`
    currency: str
    credit: bool  # money in (CRDT / C) rather than out
    reversal: bool  # the bank reverses an earlier entry (a returned transfer)
    reference: str | None  # structured creditor reference (CdtrRefInf/Ref), as written
    remittance: str  # unstructured remittance text (Ustrd, MT940 :86: purpose)
    debtor_name: str | None
    debtor_iban: str | None
    where: str  # "Ntry 3" / "line 14": where a person finds it in the file


@dataclass(frozen=True)
class Statement:
    """What one file holds: its format and its lines, in file order."""

    format: Format
    lines: tuple[StatementLine, ...]


def parse_statement(
    data: bytes, *, max_bytes: int = MAX_BYTES, max_entries: int = MAX_ENTRIES
) -> Statement:
    """Read a CAMT.053 or MT940 file (told apart by its first character)."""
    if len(data) > max_bytes:
        raise StatementError("", f"the file is larger than {max_bytes // 1024} kB")
    if not data.strip():
        raise StatementError("", "the file is empty")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return parse_camt053(data, max_entries=max_entries)
    return parse_mt940(data, max_entries=max_entries)


def minor_units(text: str, currency: str, where: str, shown: str | None = None) -> int:
    """A decimal amount as an integer of the currency's minor units; StatementError if not."""
    if not _CURRENCY.match(currency):
        raise StatementError(where, f"currency {currency!r} is not an ISO 4217 code")
    if not is_currency(currency):
        raise StatementError(where, f"currency {currency!r} is not known")
    places = get_currency_precision(currency)
    written = shown or text
    if not _AMOUNT.match(text):
        raise StatementError(where, f"amount {written!r} is not a number")
    try:
        scaled = Decimal(text).scaleb(places)
    except InvalidOperation:
        raise StatementError(where, f"amount {written!r} is not a number") from None
    if scaled != scaled.to_integral_value():
        raise StatementError(where, f"amount {written!r} has more decimals than {currency} has")
    if scaled <= 0:
        raise StatementError(where, f"amount {written!r} is not above zero")
    return int(scaled)


def _line_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# -- CAMT.053 ---------------------------------------------------------------------------------


class _Camt:
    """Namespace-aware lookups in one CAMT document."""

    def __init__(self, namespace: str) -> None:
        self.ns = namespace

    def path(self, path: str) -> str:
        return "/".join(f"{{{self.ns}}}{step}" for step in path.split("/"))

    def find(self, element: Element, path: str) -> Element | None:
        return element.find(self.path(path))

    def text(self, element: Element, path: str) -> str | None:
        found = element.find(self.path(path))
        if found is None or found.text is None:
            return None
        return found.text.strip() or None

    def all(self, element: Element, path: str) -> list[Element]:
        return element.findall(self.path(path))


def parse_camt053(data: bytes, *, max_entries: int = MAX_ENTRIES) -> Statement:
    """Read an ISO 20022 bank-to-customer statement (camt.053.001.02 or .08)."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise StatementError("XML", f"refused: {type(exc).__name__} (DTDs and entities)") from None
    except ParseError as exc:
        line, column = exc.position
        raise StatementError(
            f"line {line}, column {column}", "the XML is not well formed"
        ) from None
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    version = CAMT_NAMESPACES.get(namespace)
    if version is None or root.tag != f"{{{namespace}}}Document":
        raise StatementError(
            "Document", f"not a camt.053.001.02 or .08 document (namespace {namespace!r})"
        )
    camt = _Camt(namespace)
    statements = camt.all(root, "BkToCstmrStmt/Stmt")
    if not statements:
        raise StatementError("BkToCstmrStmt", "no Stmt")
    entries = sum(len(camt.all(s, "Ntry")) for s in statements)
    if entries > max_entries:
        raise StatementError("", f"{entries} entries; at most {max_entries} are read at once")
    lines: list[StatementLine] = []
    number = 0
    for s_index, stmt in enumerate(statements, start=1):
        where_stmt = f"Stmt {s_index}" if len(statements) > 1 else "Stmt"
        stmt_id = camt.text(stmt, "Id")
        if stmt_id is None:
            raise StatementError(where_stmt, "no Id")
        account = camt.text(stmt, "Acct/Id/IBAN") or camt.text(stmt, "Acct/Id/Othr/Id")
        if account is None:
            raise StatementError(where_stmt, "no Acct/Id/IBAN or Acct/Id/Othr/Id")
        seen: Counter[str] = Counter()
        for entry in camt.all(stmt, "Ntry"):
            number += 1
            lines.extend(_camt_entry(camt, entry, f"Ntry {number}", account, stmt_id, seen))
    return Statement(version, tuple(lines))  # type: ignore[arg-type]


def _camt_status(camt: _Camt, entry: Element) -> str | None:
    # .02 writes <Sts>BOOK</Sts>, .08 <Sts><Cd>BOOK</Cd></Sts>.
    return camt.text(entry, "Sts/Cd") or camt.text(entry, "Sts")


def _camt_entry(
    camt: _Camt, entry: Element, where: str, account: str, stmt_id: str, seen: Counter[str]
) -> list[StatementLine]:
    amount_el = camt.find(entry, "Amt")
    if amount_el is None or not (amount_el.text or "").strip():
        raise StatementError(where, "no Amt")
    currency = (amount_el.get("Ccy") or "").strip()
    if not currency:
        raise StatementError(where, "Amt has no Ccy")
    entry_minor = minor_units((amount_el.text or "").strip(), currency, where)
    mark = camt.text(entry, "CdtDbtInd")
    if mark not in ("CRDT", "DBIT"):
        raise StatementError(where, f"CdtDbtInd {mark!r} is neither CRDT nor DBIT")
    status = _camt_status(camt, entry)
    if status is not None and status != "BOOK":
        return []  # pending or informational: not money on the account yet
    booked = camt.text(entry, "BookgDt/Dt") or (camt.text(entry, "BookgDt/DtTm") or "")[:10]
    try:
        booking_date = date.fromisoformat(booked)
    except ValueError:
        raise StatementError(where, f"BookgDt {booked!r} is not a date") from None
    reversal = (camt.text(entry, "RvslInd") or "").lower() == "true"
    bank_ref = camt.text(entry, "AcctSvcrRef") or camt.text(entry, "NtryRef") or ""
    details = camt.all(entry, "NtryDtls/TxDtls")
    parts = details or [None]
    lines = []
    for t_index, tx in enumerate(parts, start=1):
        place = f"{where}, TxDtls {t_index}" if len(parts) > 1 else where
        amount_minor, tx_currency = entry_minor, currency
        if tx is not None and len(parts) > 1:
            tx_amount = camt.find(tx, "AmtDtls/TxAmt/Amt")
            if tx_amount is None:  # an Element without children is falsy: no `or` here
                tx_amount = camt.find(tx, "Amt")
            if tx_amount is None or not (tx_amount.text or "").strip():
                raise StatementError(place, "no AmtDtls/TxAmt/Amt in a batch entry")
            tx_currency = (tx_amount.get("Ccy") or currency).strip()
            amount_minor = minor_units((tx_amount.text or "").strip(), tx_currency, place)
        reference, remittance, name, iban = _camt_parties(camt, tx, mark == "CRDT")
        content = [booked, mark, str(amount_minor), tx_currency, reference or "", remittance]
        if bank_ref:
            line_id = _line_id(account, bank_ref, str(t_index))
        else:
            key = _line_id(*content, name or "", iban or "")
            seen[key] += 1
            line_id = _line_id(account, stmt_id, key, str(seen[key]))
        lines.append(
            StatementLine(
                line_id=line_id,
                account=account,
                statement_id=stmt_id,
                entry_ref=bank_ref,
                booking_date=booking_date,
                amount_minor=amount_minor,
                currency=tx_currency,
                credit=mark == "CRDT",
                reversal=reversal,
                reference=reference,
                remittance=remittance,
                debtor_name=name,
                debtor_iban=iban,
                where=place,
            )
        )
    return lines


def _camt_parties(
    camt: _Camt, tx: Element | None, credit: bool
) -> tuple[str | None, str, str | None, str | None]:
    """(structured reference, unstructured text, payer's name, payer's IBAN) of a transaction."""
    if tx is None:
        return None, "", None, None
    reference = camt.text(tx, "RmtInf/Strd/CdtrRefInf/Ref")
    remittance = " ".join(
        (u.text or "").strip() for u in camt.all(tx, "RmtInf/Ustrd") if (u.text or "").strip()
    )
    party = "Dbtr" if credit else "Cdtr"  # the other side: who paid us, or whom we paid
    name = camt.text(tx, f"RltdPties/{party}/Nm") or camt.text(tx, f"RltdPties/{party}/Pty/Nm")
    iban = camt.text(tx, f"RltdPties/{party}Acct/Id/IBAN")
    return reference, remittance[:1000], name, iban


# -- MT940 ------------------------------------------------------------------------------------

_TAG = re.compile(r"^:([0-9]{2}[A-Z]?):(.*)$")
_STATEMENT_LINE = re.compile(
    r"^(?P<date>[0-9]{6})(?P<entry>[0-9]{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?"
    r"(?P<amount>[^NSF]*)(?P<type>[NSF][A-Z0-9]{3})(?P<cref>[^/]{0,16}?)(?://(?P<bref>.{0,16}))?$"
)
_BALANCE = re.compile(r"^[CD](?P<date>[0-9]{6})(?P<currency>[A-Z]{3})(?P<amount>[0-9,]{1,17})$")
_SUBFIELD = re.compile(r"\?([0-9]{2})")
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


@dataclass
class _Field:
    tag: str
    value: str
    line: int  # where the tag starts in the file
    extra: list[str]  # continuation lines


def _mt940_text(data: bytes) -> str:
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise StatementError(f"line {line}", "holds a NUL character")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # German banks write MT940 in ISO 8859-1


def _mt940_fields(text: str) -> list[_Field]:
    fields: list[_Field] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if line.startswith("{") or line in ("-", "-}", "}"):
            # SWIFT envelope blocks ({1:..}{2:..}{4:) and the end of a message.
            tail = line.rsplit("{4:", 1)[1] if "{4:" in line else ""
            if not tail:
                continue
            line = tail
        match = _TAG.match(line)
        if match:
            fields.append(_Field(match.group(1), match.group(2), number, []))
        elif line and fields:
            fields[-1].extra.append(line)
        elif line:
            raise StatementError(
                f"line {number}", "neither a CAMT.053 (XML) nor an MT940 file (:20: first)"
            )
    return fields


def _mt940_date(text: str, where: str) -> date:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        raise StatementError(where, f"date {text!r} is not a date (YYMMDD)") from None


def _mt940_amount(text: str, currency: str, where: str) -> int:
    if text.count(",") != 1 or not re.match(r"^[0-9]+,[0-9]*$", text):
        raise StatementError(where, f"amount {text!r} is not a number")
    whole, fraction = text.split(",")
    return minor_units(f"{whole}.{fraction}" if fraction else whole, currency, where, text)


def parse_mt940(data: bytes, *, max_entries: int = MAX_ENTRIES) -> Statement:
    """Read a SWIFT MT940 customer statement (with the German :86: subfields where present)."""
    fields = _mt940_fields(_mt940_text(data))
    if not any(f.tag == "61" for f in fields) and not any(f.tag == "20" for f in fields):
        raise StatementError("line 1", "neither a CAMT.053 (XML) nor an MT940 file (:20: tag)")
    if sum(1 for f in fields if f.tag == "61") > max_entries:
        raise StatementError("", f"more than {max_entries} entries; split the file")
    lines: list[StatementLine] = []
    account = statement_id = currency = ""
    seen: Counter[str] = Counter()
    pending: tuple[_Field, dict[str, str]] | None = None

    def flush(info: _Field | None) -> None:
        nonlocal pending
        if pending is not None:
            lines.append(_mt940_line(*pending, info, account, statement_id, currency, seen))
            pending = None

    for f in fields:
        where = f"line {f.line}"
        if f.tag == "86" and pending is not None:
            flush(f)
            continue
        flush(None)
        if f.tag == "20":
            statement_id, account, currency = f.value.strip(), "", ""
            seen = Counter()
        elif f.tag == "25":
            account = f.value.strip()
        elif f.tag == "28C":
            statement_id = f"{statement_id}/{f.value.strip()}"
        elif f.tag in ("60F", "60M"):
            match = _BALANCE.match(f.value.strip())
            if match is None:
                raise StatementError(where, f"opening balance {f.value!r} is not C/D YYMMDD CCY")
            currency = match.group("currency")
        elif f.tag == "61":
            if not account or not currency:
                raise StatementError(where, ":61: before :25: account and :60F: balance")
            pending = (f, {"currency": currency})
    flush(None)
    return Statement("mt940", tuple(lines))


def _mt940_line(
    f: _Field,
    context: dict[str, str],
    info: _Field | None,
    account: str,
    statement_id: str,
    currency: str,
    seen: Counter[str],
) -> StatementLine:
    where = f"line {f.line}"
    match = _STATEMENT_LINE.match(f.value.strip())
    if match is None:
        raise StatementError(where, f":61: {f.value.strip()!r} is not a statement line")
    booking_date = _mt940_date(match.group("date"), where)
    amount_minor = _mt940_amount(match.group("amount"), context["currency"], where)
    mark = match.group("mark")
    bank_ref = (match.group("bref") or "").strip()
    if bank_ref.upper() == "NONREF":
        bank_ref = ""
    remittance, name, iban = _mt940_info(info)
    content = [match.group("date"), mark, str(amount_minor), currency, remittance]
    if bank_ref:
        line_id = _line_id(account, bank_ref)
    else:
        key = _line_id(*content, name or "", iban or "")
        seen[key] += 1
        line_id = _line_id(account, statement_id, key, str(seen[key]))
    return StatementLine(
        line_id=line_id,
        account=account,
        statement_id=statement_id,
        entry_ref=bank_ref,
        booking_date=booking_date,
        amount_minor=amount_minor,
        currency=currency,
        credit=mark in ("C", "RD"),  # RD: reversal of a debit, money comes back in
        reversal=mark.startswith("R"),
        reference=None,
        remittance=remittance,
        debtor_name=name,
        debtor_iban=iban,
        where=where,
    )


def _mt940_info(info: _Field | None) -> tuple[str, str | None, str | None]:
    """(remittance text, payer's name, payer's IBAN) from a :86: field."""
    if info is None:
        return "", None, None
    joined = info.value + "".join(info.extra)
    if not re.match(r"^[0-9]{3}\?", joined):  # unstructured: lines as words
        return (
            " ".join([info.value.strip(), *(e.strip() for e in info.extra)]).strip()[:1000],
            None,
            None,
        )
    subfields: dict[str, list[str]] = {}
    pieces = _SUBFIELD.split(joined[3:])
    for code, value in zip(pieces[1::2], pieces[2::2], strict=False):
        subfields.setdefault(code, []).append(value)
    purpose = "".join(
        v
        for code in [*(str(n) for n in range(20, 30)), "60", "61", "62", "63"]
        for v in subfields.get(code, [])
    )
    name = ("".join(subfields.get("32", [])) + "".join(subfields.get("33", []))).strip() or None
    account = "".join(subfields.get("31", [])).strip().replace(" ", "")
    return purpose.strip()[:1000], name, account if _IBAN.match(account) else None
