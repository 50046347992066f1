"""Reconciliation: statement lines matched to cases, booked once, the rest left for a person."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import Database, Runtime, VirtualClock
from engine.payments.reconcile import (
    FLUSH_EVERY,
    LineDecisionError,
    StatementError,
    assign_line,
    dismiss_line,
    import_statement,
    line_reason,
    recent_imports,
    unmatched_lines,
)
from engine.payments.references import rf_reference
from engine.storage.models import (
    CaseRow,
    EventRow,
    StatementImportRow,
    StatementLineRow,
    VersionRow,
)
from tests.factories import audit_rows, make_case

DATA = Path(__file__).parents[2] / "connectors" / "data"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


@pytest.fixture
def cases(db: Database, clock: VirtualClock, published: VersionRow) -> dict[int, str]:
    """Cases 1-3 (the sample files' RF95MW1, RF68MW2, RF41MW3) and INV-2002."""
    with db.transaction() as s:
        made = [
            make_case(s, published, clock.now, external_id="INV-2001", amount="120.00"),
            make_case(s, published, clock.now, external_id="INV-2000", amount="250.00"),
            make_case(s, published, clock.now, external_id="INV-2003", amount="80.00"),
            make_case(s, published, clock.now, external_id="INV-2002", amount="250.00"),
        ]
        return {c.id: c.external_id for c in made}


def run(db: Database, clock: VirtualClock, name: str, by: str = "anna@example.org"):
    with db.transaction() as s:
        return import_statement(s, read(name), name, by, clock.now, prefix="MW")


def lines(db: Database) -> dict[str, StatementLineRow]:
    with db.transaction() as s:
        rows = list(s.scalars(select(StatementLineRow)))
        s.expunge_all()
    return {r.place: r for r in rows}


def payments(db: Database) -> list[tuple[int, dict]]:
    with db.transaction() as s:
        return [
            (e.case_id, e.payload)
            for e in s.scalars(select(EventRow).where(EventRow.type == "payment_received"))
        ]


def test_camt_v02_lines_match_by_rf_and_by_invoice_number(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    summary = run(db, clock, "camt053_v02.xml")

    assert (summary.lines, summary.new, summary.matched, summary.unmatched, summary.ignored) == (
        4,
        4,
        2,
        1,
        1,
    )
    got = lines(db)
    assert (got["Ntry 1"].status, got["Ntry 1"].rule, got["Ntry 1"].amount_note) == (
        "matched",
        "rf",
        "full",
    )
    assert got["Ntry 1"].case_id == 1
    assert (got["Ntry 2"].rule, got["Ntry 2"].amount_note, got["Ntry 2"].case_id) == (
        "external_id",
        "partial",
        4,
    )
    assert (got["Ntry 3"].status, got["Ntry 3"].reason) == ("ignored", "debit")
    assert (got["Ntry 4"].status, got["Ntry 4"].reason) == ("unmatched", "no_reference")
    assert sorted(payments(db)) == [
        (1, {"amount": "120.00", "currency": "EUR"}),
        (4, {"amount": "50.00", "currency": "EUR"}),
    ]


def test_a_full_payment_closes_the_case_on_the_next_tick(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    run(db, clock, "camt053_v02.xml")
    clock.advance(timedelta(minutes=1))
    Runtime(db).tick(clock.now)

    with db.transaction() as s:
        paid, partly = s.get(CaseRow, 1), s.get(CaseRow, 4)
        assert paid is not None and partly is not None
        assert (paid.status, paid.amount_open) == ("closed", Decimal("0.00"))
        assert (partly.status, partly.amount_open) == ("active", Decimal("200.00"))


def test_reading_the_same_file_again_books_nothing_twice(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    run(db, clock, "camt053_v02.xml")
    again = run(db, clock, "camt053_v02.xml")

    assert (again.lines, again.new, again.matched, again.unmatched) == (4, 0, 0, 0)
    assert len(payments(db)) == 2
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StatementImportRow)) == 2
        assert s.scalar(select(func.count()).select_from(StatementLineRow)) == 4


def test_v08_batch_and_grouped_reference_in_text(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    summary = run(db, clock, "camt053_v08.xml")

    got = lines(db)
    assert (summary.matched, summary.unmatched) == (2, 1)
    assert (got["Ntry 1, TxDtls 1"].case_id, got["Ntry 1, TxDtls 1"].rule) == (2, "rf")
    # RF41 MW3 written in groups in the text: case 3 is owed 80.00 and gets 100.00.
    third = got["Ntry 1, TxDtls 2"]
    assert (third.case_id, third.amount_note, third.detail) == (
        3,
        "overpayment",
        {"excess": "20.00", "currency": "EUR"},
    )
    assert line_reason(got["Ntry 2"]).text("de") != line_reason(got["Ntry 2"]).text("en")


def test_mt940_lines_match_like_camt_lines(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    summary = run(db, clock, "mt940.sta")

    got = lines(db)
    assert (summary.matched, summary.unmatched, summary.ignored) == (2, 0, 1)
    assert (got["line 6"].case_id, got["line 6"].rule) == (1, "rf")
    assert (got["line 10"].case_id, got["line 10"].rule) == (4, "external_id")


def test_a_currency_mismatch_is_left_unmatched_with_the_reason(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    with db.transaction() as s:
        case = make_case(s, published, clock.now, external_id="USD-0001", currency="USD")
    statement = read("camt053_v02.xml").replace(b"RF95MW1", rf_reference(case.id, "MW").encode())
    with db.transaction() as s:
        import_statement(s, statement, "usd.xml", "anna", clock.now, prefix="MW")

    first = lines(db)["Ntry 1"]
    assert (first.status, first.reason) == ("unmatched", "currency")
    assert line_reason(first).text("en") == "The payment is in EUR, case USD-0001 is in USD."
    assert payments(db) == []


def test_a_payment_for_a_closed_case_waits_for_a_person(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    with db.transaction() as s:
        case = s.get(CaseRow, 1)
        assert case is not None
        case.status = "closed"
    run(db, clock, "camt053_v02.xml")

    first = lines(db)["Ntry 1"]
    assert (first.status, first.reason, first.detail) == (
        "unmatched",
        "case_closed",
        {"case": "INV-2001"},
    )


def test_an_rf_reference_of_no_case_is_named(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as s:
        import_statement(s, read("camt053_v02.xml"), "x.xml", "anna", clock.now, prefix="MW")

    first = lines(db)["Ntry 1"]
    assert (first.reason, first.detail) == ("unknown_reference", {"reference": "RF95MW1"})


def test_text_naming_two_cases_is_ambiguous(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    statement = read("camt053_v02.xml").replace(
        b"Vorauszahlung Auftrag 99", b"INV-2001 und INV-2003"
    )
    with db.transaction() as s:
        import_statement(s, statement, "x.xml", "anna", clock.now, prefix="MW")

    fourth = lines(db)["Ntry 4"]
    assert (fourth.reason, fourth.detail) == ("ambiguous", {"cases": "INV-2001, INV-2003"})


def test_a_person_assigns_an_unmatched_line_once_and_it_is_audited(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    run(db, clock, "camt053_v02.xml")
    line = lines(db)["Ntry 4"]
    with db.transaction() as s:
        assign_line(s, line.id, "INV-2003", "bob@example.org", clock.now)
    with db.transaction() as s, pytest.raises(LineDecisionError, match="decided already"):
        assign_line(s, line.id, "INV-2003", "bob@example.org", clock.now)

    again = lines(db)["Ntry 4"]
    assert (again.status, again.rule, again.case_id, again.decided_by) == (
        "assigned",
        "manual",
        3,
        "bob@example.org",
    )
    assert (3, {"amount": "75.00", "currency": "EUR"}) in payments(db)
    with db.transaction() as s:
        audit = audit_rows(s, kind="bank_line_assigned")
        assert [(a.case_id, a.detail["by"]) for a in audit] == [(3, "bob@example.org")]


@pytest.mark.parametrize(
    ("case", "message"),
    [("NOPE-1", "There is no case 'NOPE-1'."), ("USD-0001", "case USD-0001 is in USD")],
)
def test_an_assignment_that_cannot_be_done_says_why(
    db: Database,
    clock: VirtualClock,
    cases: dict[int, str],
    published: VersionRow,
    case: str,
    message: str,
) -> None:
    with db.transaction() as s:
        make_case(s, published, clock.now, external_id="USD-0001", currency="USD")
    run(db, clock, "camt053_v02.xml")
    line = lines(db)["Ntry 4"]
    with db.transaction() as s, pytest.raises(LineDecisionError, match=message):
        assign_line(s, line.id, case, "bob", clock.now)
    assert lines(db)["Ntry 4"].status == "unmatched"


def test_a_person_dismisses_a_line_and_nothing_is_booked(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    run(db, clock, "camt053_v02.xml")
    line = lines(db)["Ntry 4"]
    with db.transaction() as s:
        dismiss_line(s, line.id, "bob", clock.now, note="advance payment, not a claim")
        assert unmatched_lines(s) == []
        listed = recent_imports(s)

    assert lines(db)["Ntry 4"].status == "dismissed"
    assert len(payments(db)) == 2
    assert (listed[0]["matched"], listed[0]["unmatched"], listed[0]["dismissed"]) == (2, 0, 1)
    with db.transaction() as s:
        assert audit_rows(s, kind="bank_line_dismissed")[0].detail["by"] == "bob"


def test_an_unreadable_file_stores_nothing(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as s, pytest.raises(StatementError, match="Ntry 1: no Amt"):
        import_statement(
            s,
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
            b"<Stmt><Id>1</Id><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>"
            b"<Ntry/></Stmt></BkToCstmrStmt></Document>",
            "bad.xml",
            "anna",
            clock.now,
        )
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(StatementImportRow)) == 0


def test_a_long_statement_stores_every_decision(
    db: Database, clock: VirtualClock, cases: dict[int, str]
) -> None:
    """More lines than are written at once (FLUSH_EVERY): each line's decision is stored."""
    entry = (
        "<Ntry><Amt Ccy='EUR'>1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        "<BookgDt><Dt>2026-12-04</Dt></BookgDt><AcctSvcrRef>L{n}</AcctSvcrRef><NtryDtls>"
        "<TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )
    entries = [
        entry.format(n=n, text="INV-2002" if n % 2 else "nothing")
        for n in range(FLUSH_EVERY * 2 + 50)
    ]
    data = (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>'
        "<Id>L</Id><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()
    with db.transaction() as s:
        summary = import_statement(s, data, "long.xml", "anna", clock.now, prefix="MW")

    with db.transaction() as s:
        stored = dict(
            s.execute(
                select(StatementLineRow.status, func.count()).group_by(StatementLineRow.status)
            ).all()
        )
    assert stored == {"matched": summary.matched, "unmatched": summary.unmatched}
    assert summary.matched == FLUSH_EVERY + 25 == len(payments(db))
