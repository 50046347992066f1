"""Bank statements: CAMT.053 (.02, .08) and MT940 read into lines; hostile files refused."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest

from connectors.bank_statements import (
    MAX_BYTES,
    StatementError,
    parse_camt053,
    parse_mt940,
    parse_statement,
)

DATA = Path(__file__).parent / "data"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_camt053_v02_reads_booked_entries_with_references_and_payers() -> None:
    statement = parse_statement(read("camt053_v02.xml"))

    assert statement.format == "camt.053.001.02"
    assert [(line.where, line.amount_minor, line.credit) for line in statement.lines] == [
        ("Ntry 1", 12000, True),
        ("Ntry 2", 5000, True),
        ("Ntry 3", 1999, False),
        ("Ntry 4", 7500, True),
    ]  # the fifth entry is pending (PDNG): not money on the account yet
    first = statement.lines[0]
    assert (first.reference, first.debtor_name, first.debtor_iban) == (
        "RF95MW1",
        "Erika Mustermann",
        "DE89370400440532013000",
    )
    assert first.booking_date == date(2026, 12, 4)
    assert first.account == "DE02120300000000202051"
    assert first.entry_ref == "2026120400001"
    assert statement.lines[1].remittance == "Rechnung INV-2002 Teilzahlung"
    assert statement.lines[2].debtor_name == "Telefon AG"  # the other side of a debit


def test_camt053_v08_splits_a_batch_entry_into_its_transactions() -> None:
    statement = parse_statement(read("camt053_v08.xml"))

    assert statement.format == "camt.053.001.08"
    assert [(line.where, line.amount_minor) for line in statement.lines] == [
        ("Ntry 1, TxDtls 1", 20000),
        ("Ntry 1, TxDtls 2", 10000),
        ("Ntry 2", 1250),
    ]
    assert statement.lines[0].debtor_name == "Hans Beispiel"  # .08: Dbtr/Pty/Nm
    assert statement.lines[0].booking_date == date(2026, 12, 5)  # from BookgDt/DtTm
    assert len({line.line_id for line in statement.lines}) == 3


def test_mt940_reads_lines_with_german_structured_purpose() -> None:
    statement = parse_statement(read("mt940.sta"))

    assert statement.format == "mt940"
    lines = statement.lines
    assert [(line.where, line.amount_minor, line.credit, line.currency) for line in lines] == [
        ("line 6", 12000, True, "EUR"),
        ("line 10", 5000, True, "EUR"),
        ("line 12", 1999, False, "EUR"),
    ]
    assert "SVWZ+RF95MW1 Rechnung vom November" in lines[0].remittance
    assert (lines[0].debtor_name, lines[0].debtor_iban) == (
        "Erika Mustermann",
        "DE89370400440532013000",
    )
    assert lines[0].entry_ref == "2026120400011"
    assert lines[1].remittance == "Rechnung INV-2002 Teilzahlung"


@pytest.mark.parametrize("name", ["camt053_v02.xml", "camt053_v08.xml", "mt940.sta"])
def test_line_ids_are_the_same_when_the_file_is_read_again(name: str) -> None:
    first = [line.line_id for line in parse_statement(read(name)).lines]
    again = [line.line_id for line in parse_statement(read(name)).lines]

    assert first == again and len(set(first)) == len(first)


def test_identical_entries_without_a_bank_reference_get_different_ids() -> None:
    entry = (
        "<Ntry><Amt Ccy='EUR'>5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        "<BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>"
    )
    statement = parse_camt053(camt(entry + entry))

    assert len({line.line_id for line in statement.lines}) == 2


def camt(entries: str, version: str = "02") -> bytes:
    return (
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">'
        "<BkToCstmrStmt><Stmt><Id>S1</Id><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id>"
        f"</Acct>{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("<Ntry><CdtDbtInd>CRDT</CdtDbtInd></Ntry>", "Ntry 1: no Amt"),
        (
            "<Ntry><Amt Ccy='EUR'>1</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
            "<BookgDt><Dt>x</Dt></BookgDt></Ntry>"
            "<Ntry><Amt Ccy='EUR'>abc</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>",
            "Ntry 1: BookgDt 'x' is not a date",
        ),
        (
            "<Ntry><Amt Ccy='EUR'>abc</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>",
            "Ntry 1: amount 'abc' is not a number",
        ),
        (
            "<Ntry><Amt Ccy='EUR'>1.234</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>",
            "Ntry 1: amount '1.234' has more decimals than EUR has",
        ),
        (
            "<Ntry><Amt Ccy='XYZ'>1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>",
            "Ntry 1: currency 'XYZ' is not known",
        ),
        ("<Ntry><Amt>1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>", "Ntry 1: Amt has no Ccy"),
        (
            "<Ntry><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>UP</CdtDbtInd></Ntry>",
            "Ntry 1: CdtDbtInd 'UP' is neither CRDT nor DBIT",
        ),
    ],
)
def test_camt_errors_name_the_entry(entries: str, message: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse_camt053(camt(entries))

    assert str(caught.value) == message


def test_an_unknown_camt_version_is_refused_by_name() -> None:
    with pytest.raises(StatementError, match=r"camt\.053\.001\.02 or \.08"):
        parse_statement(camt("", version="99"))


def test_an_xml_bomb_is_refused_before_expansion() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]><Document>&lol9;</Document>"
    )
    started = time.perf_counter()
    with pytest.raises(StatementError, match="refused"):
        parse_statement(bomb)
    assert time.perf_counter() - started < 1


def test_an_external_entity_is_refused_and_nothing_is_read() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&x;</Document>'
    )
    with pytest.raises(StatementError, match="refused") as caught:
        parse_statement(xxe)
    assert "root:" not in str(caught.value)


def test_a_file_above_the_limit_is_refused_unread() -> None:
    big = b"<" + b" " * (10 * 1024 * 1024)

    with pytest.raises(StatementError, match="larger than"):
        parse_statement(big)
    assert len(big) > MAX_BYTES


def test_a_truncated_camt_file_names_line_and_column() -> None:
    cut = read("camt053_v02.xml")[:1500]

    with pytest.raises(StatementError, match=r"^line \d+, column \d+: the XML is not well formed"):
        parse_statement(cut)


def test_too_many_entries_are_refused() -> None:
    entry = "<Ntry><Amt Ccy='EUR'>5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>"

    with pytest.raises(StatementError, match="at most 3"):
        parse_camt053(camt(entry * 4), max_entries=3)


def mt940(*lines: str) -> bytes:
    head = [":20:REF", ":25:12030000/0000202051", ":28C:1/1", ":60F:C261203EUR0,00"]
    return "\r\n".join([*head, *lines, ":62F:C261204EUR0,00", "-"]).encode()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((":61:261204CRabcNTRFNONREF",), "line 5: amount 'abc' is not a number"),
        ((":61:261304CR1,00NTRFNONREF",), "line 5: date '261304' is not a date (YYMMDD)"),
        ((":61:garbage",), "line 5: :61: 'garbage' is not a statement line"),
        ((":61:261204CR1,001NTRFNONREF",), "line 5: amount '1,001' has more decimals than EUR has"),
    ],
)
def test_mt940_errors_name_the_line(lines: tuple[str, ...], message: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse_mt940(mt940(*lines))

    assert str(caught.value) == message


def test_a_truncated_mt940_file_reads_what_is_whole_and_refuses_a_cut_line() -> None:
    whole = read("mt940.sta").decode()
    cut = whole[: whole.index(":61:2612041204CR50,00") + len(":61:2612041204CR5")]

    with pytest.raises(StatementError, match=r"^line 10: :61: .* is not a statement line"):
        parse_statement(cut.encode())


def test_a_wrong_currency_in_mt940_is_refused() -> None:
    data = mt940(":61:261204CR1,00NTRFNONREF").replace(b"EUR0,00\r\n:61", b"EUX0,00\r\n:61")

    with pytest.raises(StatementError, match="currency 'EUX' is not known"):
        parse_mt940(data)


def test_neither_format_says_so() -> None:
    with pytest.raises(StatementError, match=r"neither a CAMT\.053"):
        parse_statement(b"date;amount\n2026-12-01;5.00\n")


def test_an_empty_file_says_so() -> None:
    with pytest.raises(StatementError, match="empty"):
        parse_statement(b"  \n")
