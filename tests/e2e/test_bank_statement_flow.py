"""e2e in Chromium: a manager reads a bank statement, a line pays a case by its RF reference and
the case closes; a line naming no case is booked to a case by hand with the keyboard."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from engine import Database, Runtime, rf_reference, utcnow
from tests.factories import example_doc, make_case, publish

ENTRY = (
    "<Ntry><Amt Ccy='EUR'>{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
    "<BookgDt><Dt>2026-12-04</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls>"
    "<RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties><RmtInf>{remittance}</RmtInf>"
    "</TxDtls></NtryDtls></Ntry>"
)


def statement(entries: list[str]) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        "<Stmt><Id>E2E-1</Id><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>"
        + "".join(entries)
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def test_a_statement_pays_a_case_and_a_person_books_the_rest(
    page: Any, database_url: str, tmp_path: Path
) -> None:
    db = Database(database_url)
    now = utcnow()
    with db.transaction() as s:
        version = publish(s, {**example_doc("minimal"), "key": "e2e-bank"}, now)
        paid = make_case(s, version, now, external_id="E2E-BANK-1", amount="120.00")
        other = make_case(s, version, now, external_id="E2E-BANK-2", amount="40.00")
        paid_id, other_id, reference = paid.id, other.id, rf_reference(paid.id)
    stamp = now.strftime("%H%M%S%f")
    file = tmp_path / "statement.xml"
    file.write_bytes(
        statement(
            [
                ENTRY.format(
                    amount="120.00",
                    ref=f"E2E-{stamp}-1",
                    payer="Erika Mustermann",
                    remittance=f"<Strd><CdtrRefInf><Ref>{reference}</Ref></CdtrRefInf></Strd>",
                ),
                ENTRY.format(
                    amount="40.00",
                    ref=f"E2E-{stamp}-2",
                    payer="Zahler ohne Referenz",
                    remittance="<Ustrd>Danke fuer die Geduld</Ustrd>",
                ),
            ]
        )
    )

    page.get_by_role("link", name="Bank statements").click()
    page.get_by_label("Statement file (.xml, .sta, .940)").set_input_files(str(file))
    page.get_by_role("button", name="Read statement").click()
    page.get_by_text("statement.xml read: 1 booked to cases, 1 waiting for you").wait_for()

    # The waiting line: booked to the other case with the keyboard alone.
    line = page.locator("li", has_text="Zahler ohne Referenz")
    line.get_by_label("Book to case (id)").focus()
    page.keyboard.type("E2E-BANK-2")
    page.keyboard.press("Enter")
    page.wait_for_url("**/statements?assigned=*")
    assert page.locator("li", has_text="Zahler ohne Referenz").count() == 0

    Runtime(db).tick(utcnow() + timedelta(seconds=1))
    for case_id in (paid_id, other_id):
        page.goto(f"/cases/{case_id}")
        status = page.locator("h1 .status")
        assert status.inner_text().strip().lower() in ("closed", "paid"), case_id
    db.dispose()
