"""Debtors: cases of one person, their contact data in one place, holds on the person.

Real parts throughout: the schema, the intake writers, the CSV importer, the runtime's tick.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.intake.debtors import UnknownDebtor, update_debtor
from engine.intake.host_cases import bulk_upsert, upsert_case
from engine.intake.importer import import_cases
from engine.storage.models import CaseRow, DebtorRow, VersionRow
from tests.factories import audit_rows, case_data, case_row, make_case


def debtors(db: Database) -> list[DebtorRow]:
    with db.transaction() as session:
        return list(session.scalars(select(DebtorRow).order_by(DebtorRow.id)))


def two_cases(db: Database, clock: VirtualClock, version: VersionRow, **extra: object) -> None:
    with db.transaction() as session:
        for ext in ("INV-1", "INV-2"):
            make_case(session, version, clock.now, external_id=ext, debtor_id="CUST-7", **extra)


def test_cases_naming_one_customer_id_belong_to_one_debtor(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published, street="Hauptstr. 1", postcode="10115", city="Berlin")

    (debtor,) = debtors(db)
    with db.transaction() as session:
        cases = [case_row(session, ext) for ext in ("INV-1", "INV-2")]
        assert {case.debtor_id for case in cases} == {debtor.id}
    assert (debtor.external_id, debtor.name, debtor.street) == (
        "CUST-7",
        "Erika Mustermann",
        "Hauptstr. 1",
    )


def test_a_case_without_a_debtor_works_as_before(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    with db.transaction() as session:
        make_case(session, published, clock.now, external_id="ALONE")

    report = Runtime(db).tick(clock.now)

    assert debtors(db) == []
    with db.transaction() as session:
        assert case_row(session, "ALONE").debtor_id is None
    assert report.cases == 1 and report.errors == 0


def test_a_newer_case_with_a_new_address_reaches_the_debtors_other_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published, street="Altweg 1", postcode="10115", city="Berlin")
    Runtime(db).tick(clock.now)
    clock.advance(timedelta(days=1))

    with db.transaction() as session:
        raw = case_data(
            external_id="INV-3",
            debtor_id="CUST-7",
            street="Neuweg 2",
            postcode="80331",
            city="München",
        )
        upsert_case(session, _loaded(raw), "minimal", clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        streets = {case_row(session, e).street for e in ("INV-1", "INV-2", "INV-3")}
        (changed,) = audit_rows(session, kind="debtor_changed")
        events = [
            a.detail for a in audit_rows(session, case_row(session, "INV-1").id, kind="event")
        ]
    assert streets == {"Neuweg 2"}
    assert changed.detail["changed"] == ["city", "postcode", "street"]
    assert {"event": "contact_changed"}.items() <= events[-1].items()


def test_an_api_update_of_the_debtor_reaches_every_open_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        _, changed = update_debtor(
            session,
            "CUST-7",
            {"email": "erika.neu@example.org", "name": "Erika Neu", "opted_out": ["sms"]},
            clock.now,
        )
    Runtime(db).tick(clock.now)

    assert changed == ["email", "name", "opted_out"]
    with db.transaction() as session:
        for ext in ("INV-1", "INV-2"):
            case = case_row(session, ext)
            assert (case.email, case.debtor_name) == ("erika.neu@example.org", "Erika Neu")
            assert case.contact_prefs["opted_out"] == ["sms"]


def test_updating_an_unknown_debtor_or_with_bad_data_is_refused(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published)
    with db.transaction() as session:
        with pytest.raises(UnknownDebtor, match="NOPE"):
            update_debtor(session, "NOPE", {"email": "a@example.org"}, clock.now)
        with pytest.raises(ValidationError) as bad:
            update_debtor(
                session, "CUST-7", {"email": "not-mail", "opted_out": ["pigeon"]}, clock.now
            )
    assert set(bad.value.messages) == {"email", "opted_out"}


def test_a_debtor_object_and_a_differing_debtor_id_are_refused(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    with db.transaction() as session:
        with pytest.raises(ValidationError) as differ:
            make_case(session, published, clock.now, debtor_id="A", debtor={"external_id": "B"})
        with pytest.raises(ValidationError) as unnamed:
            make_case(session, published, clock.now, debtor={"name": "Nobody"})
    assert "debtor_id" in differ.value.messages
    assert "debtor" in unnamed.value.messages


def test_insolvency_on_one_case_stops_every_case_of_the_debtor(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published)
    with db.transaction() as session:
        make_case(session, published, clock.now, external_id="OTHER", debtor_id="CUST-8")
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        record_event(session, "INV-1", "ins-1", "insolvency", {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        states = {
            e: (case_row(session, e).status, case_row(session, e).hold_reason)
            for e in ("INV-1", "INV-2", "OTHER")
        }
        sibling = case_row(session, "INV-2")
        policy = audit_rows(session, sibling.id, kind="policy")
        event = audit_rows(session, sibling.id, kind="event")[-1]
    assert states == {
        "INV-1": ("stopped", "insolvency"),
        "INV-2": ("stopped", "insolvency"),
        "OTHER": ("active", None),
    }
    assert policy[-1].rule == "insolvency"
    assert event.detail["event"] == "insolvency"


@pytest.mark.parametrize(
    ("event", "reason", "status"),
    [
        ("deceased", "deceased", "stopped"),
        ("breathing_space_started", "breathing_space", "held"),
        ("cease_contact", "cease_contact", "held"),
        ("attorney_represented", "attorney", "held"),
    ],
)
def test_a_hold_on_the_person_holds_every_case(
    db: Database, clock: VirtualClock, published: VersionRow, event: str, reason: str, status: str
) -> None:
    two_cases(db, clock, published)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        record_event(session, "INV-2", "person-1", event, {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        found = {
            (case_row(session, e).status, case_row(session, e).hold_reason)
            for e in ("INV-1", "INV-2")
        }
    assert found == {(status, reason)}


def test_a_breathing_space_ending_releases_every_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        record_event(session, "INV-1", "bs-1", "breathing_space_started", {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        record_event(session, "INV-2", "bs-2", "breathing_space_ended", {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert {case_row(session, e).status for e in ("INV-1", "INV-2")} == {"active"}


def test_a_dispute_holds_only_its_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    two_cases(db, clock, published)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        record_event(session, "INV-1", "disp-1", "dispute_opened", {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        assert case_row(session, "INV-1").status == "held"
        assert case_row(session, "INV-2").status == "active"


def test_the_csv_import_takes_a_customer_number_column(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    text = io.StringIO(
        "Invoice No,Customer No,Name,Email,Country,Currency,Amount,Due\n"
        "R-1,K-100,Anna Schmidt,anna@example.de,DE,EUR,10.00,2026-02-01\n"
        "R-2,K-100,Anna Schmidt,anna.neu@example.de,DE,EUR,20.00,2026-02-15\n"
        "R-3,,Ben Berg,ben@example.de,DE,EUR,30.00,2026-02-15\n"
    )

    report = import_cases(db, text, "minimal", clock.now)

    assert report.imported == 3 and not report.errors
    (debtor,) = debtors(db)
    with db.transaction() as session:
        cases = {e: case_row(session, e) for e in ("R-1", "R-2", "R-3")}
    assert (debtor.external_id, debtor.email) == ("K-100", "anna.neu@example.de")  # newer wins
    assert cases["R-1"].debtor_id == cases["R-2"].debtor_id == debtor.id
    assert cases["R-2"].email == "anna.neu@example.de"
    assert cases["R-3"].debtor_id is None


def test_bulk_upsert_takes_a_debtor_object(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    items = [
        case_data(
            external_id=f"B-{i}",
            debtor={"external_id": "BULK-1", "name": "Bulk Person", "phone": "0151 23456789"},
        )
        for i in range(3)
    ] + [case_data(external_id="B-alone")]

    with db.transaction() as session:
        results = bulk_upsert(session, items, "minimal", clock.now)
        cases = list(session.scalars(select(CaseRow).order_by(CaseRow.id)))

    assert [r.status for r in results] == ["created"] * 4
    (debtor,) = debtors(db)
    assert debtor.phone == "+4915123456789"
    assert [c.debtor_id for c in cases] == [debtor.id] * 3 + [None]
    assert {c.debtor_name for c in cases[:3]} == {"Bulk Person"}


def _loaded(raw: dict[str, object]) -> dict[str, object]:
    from engine.intake.cases import CaseSchema

    return CaseSchema().load(raw)


def test_two_imports_naming_one_debtor_the_newer_wins_audited(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    head = "Invoice No,Customer No,Name,Email,City,Country,Currency,Amount,Due\n"
    first = io.StringIO(
        head + "R-10,K-200,Anna Schmidt,old@example.de,Bonn,DE,EUR,10.00,2026-02-01\n"
    )
    second = io.StringIO(
        head + "R-11,K-200,Anna Schmidt,new@example.de,Köln,DE,EUR,20.00,2026-02-15\n"
    )
    import_cases(db, first, "minimal", clock.now)
    Runtime(db).tick(clock.now)
    clock.advance(timedelta(days=1))

    report = import_cases(db, second, "minimal", clock.now)
    Runtime(db).tick(clock.now)

    (debtor,) = debtors(db)
    assert report.imported == 1 and (debtor.email, debtor.city) == ("new@example.de", "Köln")
    with db.transaction() as session:
        assert case_row(session, "R-10").email == "new@example.de"  # reached the older case
        (changed,) = audit_rows(session, kind="debtor_changed")
    assert changed.detail["source"] == "import"
    assert changed.detail["changed"] == ["city", "email"]


def test_bad_debtor_ids_in_a_csv_are_named_by_line_and_column(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    text = io.StringIO(
        "Invoice No,Customer No,Name,Country,Currency,Amount,Due\n"
        "R-20,K/1,Anna Schmidt,DE,EUR,10.00,2026-02-01\n"
        f"R-21,{'K' * 101},Ben Berg,DE,EUR,10.00,2026-02-01\n"
        "R-22,K-300,Cleo Clay,DE,EUR,10.00,2026-02-01\n"
    )

    report = import_cases(db, text, "minimal", clock.now)

    assert report.imported == 1
    found = sorted((e.line, e.column) for e in report.errors)
    assert found == [(2, "Customer No"), (3, "Customer No")]
    assert [d.external_id for d in debtors(db)] == ["K-300"]
