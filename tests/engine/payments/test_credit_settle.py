"""A kept credit is settled once: paid back, or set off against one open case of the person
through the one event intake (at most what the case owes; the rest stays a smaller credit)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine import (
    CreditActor,
    CreditRefused,
    Database,
    Runtime,
    Settlement,
    VirtualClock,
    credit_history,
    debtor_credits,
    record_event,
    set_off_choices,
    settle_credit,
)
from engine.storage.models import AuditRow, DebtorCreditRow, EventRow, VersionRow
from tests.factories import case_row, make_case

STAFF = CreditActor("anna@example.org", 7, "manager")


def kept_credit(db: Database, clock: VirtualClock, version: VersionRow, paid: str) -> int:
    """Cases C-1 (40.00) and C-2 (60.00) of P-1, X-1 (70.00) of P-2, D-1 (30.00 USD) of P-1;
    `paid` arrives for C-1 and the rest beyond 40.00 is kept. Returns the credit's id."""
    with db.transaction() as session:
        for ext, amount, debtor, currency in (
            ("C-1", "40.00", "P-1", "EUR"),
            ("C-2", "60.00", "P-1", "EUR"),
            ("X-1", "70.00", "P-2", "EUR"),
            ("D-1", "30.00", "P-1", "USD"),
        ):
            make_case(
                session,
                version,
                clock.now,
                external_id=ext,
                amount=amount,
                debtor_id=debtor,
                currency=currency,
            )
    Runtime(db).tick(clock.now)
    pay(db, clock, "C-1", "bank:1", paid)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        return session.scalars(select(DebtorCreditRow.id)).one()


def pay(db: Database, clock: VirtualClock, external_id: str, event_id: str, amount: str) -> None:
    with db.transaction() as session:
        payload = {"amount": amount, "currency": "EUR"}
        record_event(session, external_id, event_id, "payment_received", payload, clock.now)


def settle(db: Database, clock: VirtualClock, credit: int, how: Settlement, debtor: str = "P-1"):
    with db.transaction() as session:
        debtor_id = case_row(session, "C-1" if debtor == "P-1" else "X-1").debtor_id
        assert debtor_id is not None
        return settle_credit(session, debtor_id, credit, how, STAFF, clock.now)


def set_off(case: str, **kwargs: object) -> Settlement:
    return Settlement("set_off", case_ref=case, **kwargs)  # type: ignore[arg-type]


def test_paid_back_is_recorded_once_and_no_longer_kept(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "65.50")
    today = clock.now.date()
    back = Settlement("paid_back", paid_on=today, reference="SEPA-4711", note="per phone")

    first = settle(db, clock, credit, back)
    again = settle(db, clock, credit, back)  # a double submit

    assert (first.state, first.settled_minor, first.replayed) == ("paid_back", 2550, False)
    assert again.replayed and again.settled_minor == 2550
    with db.transaction() as session:
        row = session.get(DebtorCreditRow, credit)
        assert (row.state, row.settled_on, row.reference, row.note) == (
            "paid_back",
            today,
            "SEPA-4711",
            "per phone",
        )
        assert (row.settled_by, row.settled_by_user_id) == ("anna@example.org", 7)
        assert row.settled_at == clock.now.replace(tzinfo=None)
        assert debtor_credits(session, row.debtor_id) == []  # the portal and API show none
        (entry,) = credit_history(session, row.debtor_id)  # staff still see it, with its state
        assert (entry.row.state, entry.origin_case) == ("paid_back", "C-1")
        assert entry.set_off_case is None
        audits = session.scalars(select(AuditRow).where(AuditRow.kind == "debtor_credit_settled"))
        (audit,) = audits.all()
        assert audit.case_id == case_row(session, "C-1").id
        assert audit.detail["how"] == "paid_back" and audit.detail["by"] == "anna@example.org"
        assert audit.detail["user_id"] == 7 and audit.detail["reference"] == "SEPA-4711"
    with pytest.raises(CreditRefused) as refused:  # settled: no set-off after a pay-back
        settle(db, clock, credit, set_off("C-2"))
    assert (refused.value.field, refused.value.reason) == ("credit", "settled")


def test_set_off_books_a_payment_on_the_case_once(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "65.50")

    first = settle(db, clock, credit, set_off("C-2", reference="phone 6 Dec"))
    again = settle(db, clock, credit, set_off("C-2"))  # double submit: stored once
    Runtime(db).tick(clock.now)

    assert (first.state, first.settled_minor, first.rest_id, first.event_id) == (
        "set_off",
        2550,
        None,
        f"credit:{credit}",
    )
    assert again.replayed
    with db.transaction() as session:
        c2 = case_row(session, "C-2")
        assert (c2.status, c2.amount_open) == ("active", Decimal("34.50"))
        (event,) = session.scalars(select(EventRow).where(EventRow.event_id == f"credit:{credit}"))
        assert (event.case_id, event.type, event.applied_at is not None) == (
            c2.id,
            "payment_received",
            True,
        )
        assert event.payload == {
            "amount": "25.50",
            "currency": "EUR",
            "method": "credit",
            "reference": f"credit:{credit}",
        }
        row = session.get(DebtorCreditRow, credit)
        assert (row.state, row.set_off_case_id) == ("set_off", c2.id)
        assert debtor_credits(session, row.debtor_id) == []
        assert credit_history(session, row.debtor_id)[0].set_off_case == "C-2"


def test_a_credit_beyond_the_case_sets_off_what_it_owes_and_keeps_the_rest(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "130.00")  # 90.00 kept; C-2 owes 60.00

    done = settle(db, clock, credit, set_off("C-2"))
    Runtime(db).tick(clock.now)

    assert (done.settled_minor, done.rest_minor) == (6000, 3000)
    with db.transaction() as session:
        c2 = case_row(session, "C-2")
        assert (c2.status, c2.outcome, c2.amount_open) == ("closed", "paid", 0)
        rest = session.get(DebtorCreditRow, done.rest_id)
        assert (rest.state, rest.amount_minor, rest.rest_of_id) == ("kept", 3000, credit)
        # The set-off made no new overpayment: only the rest is kept.
        assert [(c.amount_minor, c.currency) for c in debtor_credits(session, rest.debtor_id)] == [
            (3000, "EUR")
        ]
        assert session.scalar(select(func.count()).select_from(DebtorCreditRow)) == 2


def test_payments_not_yet_applied_count_against_what_the_case_owes(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "65.50")
    pay(db, clock, "C-2", "bank:2", "50.00")  # stored, not yet applied: C-2 owes 10.00 more

    done = settle(db, clock, credit, set_off("C-2"))
    Runtime(db).tick(clock.now)

    assert (done.settled_minor, done.rest_minor) == (1000, 1550)
    with db.transaction() as session:
        assert case_row(session, "C-2").status == "closed"
        debtor = case_row(session, "C-2").debtor_id
        assert [c.amount_minor for c in debtor_credits(session, debtor)] == [1550]


@pytest.mark.parametrize(
    ("how", "field", "reason"),
    [
        (set_off("X-1"), "case", "unknown"),  # another person's case
        (set_off("C-1"), "case", "unknown"),  # the person's case, but closed
        (set_off("D-1"), "case", "currency"),  # the person's case in USD
        (set_off("NOPE"), "case", "unknown"),
        (Settlement("set_off"), "case", "missing"),
        (Settlement("paid_back"), "paid_on", "missing"),
        (Settlement("paid_back", paid_on=date(2026, 3, 3)), "paid_on", "future"),
        (Settlement("paid_back", paid_on=date(2026, 1, 1)), "paid_on", "early"),
        (Settlement("refund"), "how", "unknown"),
        (set_off("C-2", reference="x" * 101), "reference", "long"),
        (set_off("C-2", note="x" * 1001), "note", "long"),
    ],
)
def test_a_bad_settlement_is_refused_naming_the_field(
    db: Database, clock: VirtualClock, version: VersionRow, how: Settlement, field: str, reason: str
) -> None:
    credit = kept_credit(db, clock, version, "65.50")
    with pytest.raises(CreditRefused) as refused:
        settle(db, clock, credit, how)
    assert (refused.value.field, refused.value.reason) == (field, reason)
    with db.transaction() as session:
        assert session.get(DebtorCreditRow, credit).state == "kept"
        assert session.scalar(select(func.count()).where(EventRow.event_id.like("credit:%"))) == 0


def test_another_persons_credit_is_unknown(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "65.50")
    for other, credit_id in (("P-2", credit), ("P-1", credit + 999)):
        with pytest.raises(CreditRefused) as refused:
            settle(db, clock, credit_id, Settlement("paid_back", paid_on=clock.now.date()), other)
        assert (refused.value.field, refused.value.reason) == ("credit", "unknown")


def test_a_case_that_owes_nothing_more_cannot_take_a_set_off(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    credit = kept_credit(db, clock, version, "65.50")
    pay(db, clock, "C-2", "bank:3", "60.00")  # pays C-2 in full, not yet applied

    with pytest.raises(CreditRefused) as refused:
        settle(db, clock, credit, set_off("C-2"))

    assert (refused.value.field, refused.value.reason) == ("case", "nothing_owed")


def test_the_choices_are_the_persons_open_cases_that_owe(
    db: Database, clock: VirtualClock, version: VersionRow
) -> None:
    kept_credit(db, clock, version, "65.50")
    with db.transaction() as session:
        debtor = case_row(session, "C-2").debtor_id
        choices = set_off_choices(session, debtor, clock.now + timedelta(hours=1))
    assert [(c.external_id, c.currency, c.owed_minor) for c in choices] == [
        ("C-2", "EUR", 6000),
        ("D-1", "USD", 3000),
    ]
