"""A payment beyond its case's debt is kept as the debtor's credit, once, in the tick."""

from __future__ import annotations

from sqlalchemy import func, select

from engine import Database, Runtime, VirtualClock, debtor_credits, record_event
from engine.storage.models import AuditRow, DebtorCreditRow, VersionRow
from tests.factories import case_row, make_case


def open_cases(db: Database, clock: VirtualClock, version: VersionRow) -> None:
    """Two cases of one debtor (40.00 and 60.00) and one without a debtor (50.00)."""
    with db.transaction() as session:
        for ext, amount, debtor in (("C-1", "40.00", "P-1"), ("C-2", "60.00", "P-1")):
            make_case(session, version, clock.now, external_id=ext, amount=amount, debtor_id=debtor)
        make_case(session, version, clock.now, external_id="ALONE", amount="50.00")
    Runtime(db).tick(clock.now)


def pay(db: Database, clock: VirtualClock, external_id: str, event_id: str, amount: str) -> None:
    with db.transaction() as session:
        payload = {"amount": amount, "currency": "EUR"}
        record_event(session, external_id, event_id, "payment_received", payload, clock.now)


def test_a_payment_beyond_the_case_is_kept_on_the_debtor_and_shown(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    open_cases(db, clock, version)
    pay(db, clock, "C-1", "bank:7", "65.50")

    Runtime(db).tick(clock.now)
    Runtime(db).tick(clock.now)  # nothing is kept twice

    with db.transaction() as session:
        case = case_row(session, "C-1")
        assert (case.status, case.outcome, case.amount_open) == ("closed", "paid", 0)
        (credit,) = session.scalars(select(DebtorCreditRow)).all()
        assert (credit.debtor_id, credit.case_id, credit.event_id) == (
            case.debtor_id,
            case.id,
            "bank:7",
        )
        assert (credit.amount_minor, credit.currency, credit.state, credit.intent_id) == (
            2550,
            "EUR",
            "kept",
            None,
        )
        # The other case of the person shows it (the portal and the staff page read this).
        assert [(c.amount_minor, c.currency) for c in debtor_credits(session, case.debtor_id)] == [
            (2550, "EUR")
        ]
        note = session.scalar(
            select(AuditRow.detail).where(AuditRow.case_id == case.id, AuditRow.kind == "event")
            .order_by(AuditRow.id.desc())
        )  # fmt: skip
        assert note["overpaid"] == "25.50"


def test_an_exact_payment_and_a_case_without_a_debtor_keep_no_credit(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    open_cases(db, clock, version)
    pay(db, clock, "C-2", "bank:8", "60.00")
    pay(db, clock, "ALONE", "bank:9", "80.00")  # noted on the case only: no person to hold it

    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(DebtorCreditRow)) == 0
        alone = case_row(session, "ALONE")
        assert (alone.status, alone.amount_open) == ("closed", 0)
