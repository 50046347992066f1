"""A debtor merged into another, a case moved between debtors, events about the person.

Real parts throughout: the intake writers, the events table, the runtime's tick.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock, record_event
from engine.intake.cases import CaseSchema
from engine.intake.debtor_holds import NoCases, record_debtor_event
from engine.intake.debtor_merge import MergeRefused, active_holds, merge_debtors
from engine.intake.debtors import UnknownDebtor, get_debtor
from engine.intake.host_cases import upsert_case
from engine.storage.models import CaseRow, DebtorRow, OutboxRow, VersionRow
from tests.factories import audit_rows, case_data, case_row, make_case


def open_cases(db: Database, clock: VirtualClock, version: VersionRow, **by_case: str) -> None:
    """Cases by external id -> customer id, each debtor with its own e-mail address."""
    with db.transaction() as session:
        for ext, debtor in by_case.items():
            make_case(
                session,
                version,
                clock.now,
                external_id=ext,
                debtor_id=debtor,
                email=f"{debtor.lower()}@example.org",
            )


def states(db: Database, *exts: str) -> dict[str, tuple[str, str | None]]:
    with db.transaction() as session:
        return {e: (case_row(session, e).status, case_row(session, e).hold_reason) for e in exts}


def test_a_merge_moves_cases_history_and_contact_data(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW")
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        old_case = case_row(session, "A1").id
        old_messages = session.scalars(
            select(OutboxRow.id).where(OutboxRow.case_id == old_case)
        ).all()

    with db.transaction() as session:
        result = merge_debtors(session, "OLD", "NEW", clock.now)
    Runtime(db).tick(clock.now)

    assert (result.into, result.cases, result.replayed) == ("NEW", ("A1",), False)
    with db.transaction() as session:
        new = get_debtor(session, "NEW")
        old = get_debtor(session, "OLD")
        assert new is not None and old is not None
        moved = case_row(session, "A1")
        assert moved.debtor_id == new.id and old.merged_into_id == new.id
        assert moved.email == "new@example.org"  # the contact data of the debtor that stays
        # The history moves with the case: its messages now count for the person that stays.
        history = session.scalars(
            select(OutboxRow.id)
            .join(CaseRow, CaseRow.id == OutboxRow.case_id)
            .where(CaseRow.debtor_id == new.id)
        ).all()
        assert set(old_messages) <= set(history)
        (merged,) = audit_rows(session, kind="debtor_merged")
        (case_audit,) = audit_rows(session, moved.id, kind="case_moved")
    assert merged.detail["debtor"] == "OLD" and merged.detail["cases"] == ["A1"]
    assert case_audit.detail == {"from": "OLD", "to": "NEW", "source": "api"}


def test_a_merge_asked_again_moves_nothing_and_says_so(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW")
    with db.transaction() as session:
        merge_debtors(session, "OLD", "NEW", clock.now)

    with db.transaction() as session:
        again = merge_debtors(session, "OLD", "NEW", clock.now)
        audits = audit_rows(session, kind="debtor_merged")

    assert again.replayed and again.cases == ()
    assert len(audits) == 1


def test_holds_on_either_person_reach_every_case_after_a_merge(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW", B2="NEW")
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        record_event(session, "A1", "ins-old", "insolvency", {}, clock.now)
    Runtime(db).tick(clock.now)
    assert states(db, "A1", "B1")["B1"] == ("active", None)

    with db.transaction() as session:
        result = merge_debtors(session, "OLD", "NEW", clock.now)
    Runtime(db).tick(clock.now)

    assert result.holds == ("insolvency",)
    assert states(db, "A1", "B1", "B2") == {
        "A1": ("stopped", "insolvency"),
        "B1": ("stopped", "insolvency"),
        "B2": ("stopped", "insolvency"),
    }


def test_a_new_case_of_a_merged_customer_id_lands_on_the_debtor_that_stays(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW")
    with db.transaction() as session:
        merge_debtors(session, "OLD", "NEW", clock.now)

    open_cases(db, clock, published, A2="OLD")

    with db.transaction() as session:
        new = get_debtor(session, "NEW")
        assert new is not None
        assert case_row(session, "A2").debtor_id == new.id


@pytest.mark.parametrize(
    ("debtor", "into", "error", "field"),
    [
        ("NOPE", "NEW", UnknownDebtor, None),
        ("OLD", "NOPE", UnknownDebtor, None),
        ("OLD", "OLD", MergeRefused, "into"),
    ],
)
def test_a_merge_of_unknown_debtors_or_into_itself_is_refused(
    db: Database,
    clock: VirtualClock,
    published: VersionRow,
    debtor: str,
    into: str,
    error: type[Exception],
    field: str | None,
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW")

    with db.transaction() as session, pytest.raises(error) as raised:
        merge_debtors(session, debtor, into, clock.now)

    if field is None:
        assert "'NOPE'" in str(raised.value)
    else:
        assert isinstance(raised.value, MergeRefused) and raised.value.field == field
        assert "itself" in str(raised.value)


def test_merge_cycles_and_a_second_merge_elsewhere_are_refused(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="A", B1="B", C1="C", D1="D")
    with db.transaction() as session:
        merge_debtors(session, "A", "B", clock.now)
        merge_debtors(session, "B", "C", clock.now)

    with db.transaction() as session, pytest.raises(MergeRefused, match="cycle"):
        merge_debtors(session, "C", "A", clock.now)  # A leads to C: C into itself
    with db.transaction() as session, pytest.raises(MergeRefused, match="already"):
        merge_debtors(session, "B", "D", clock.now)  # B was merged into C already

    with db.transaction() as session:
        c = get_debtor(session, "C")
        assert c is not None
        assert {case_row(session, e).debtor_id for e in ("A1", "B1", "C1")} == {c.id}


def test_a_case_moved_to_another_debtor_is_audited_and_takes_their_holds(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="OLD", B1="NEW")
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        record_event(session, "B1", "cc-1", "cease_contact", {}, clock.now)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        raw = case_data(external_id="A1", debtor_id="NEW")
        assert upsert_case(session, CaseSchema().load(raw), "minimal", clock.now)
    Runtime(db).tick(clock.now)

    assert states(db, "A1")["A1"] == ("held", "cease_contact")
    with db.transaction() as session:
        (moved,) = audit_rows(session, case_row(session, "A1").id, kind="case_moved")
    assert moved.detail == {"from": "OLD", "to": "NEW", "source": "upsert"}


def test_an_event_about_the_person_holds_and_releases_every_case(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="P", A2="P", X1="Q")
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        debtor = get_debtor(session, "P")
        assert debtor is not None
        cases = record_debtor_event(
            session, debtor.id, "bs-9", "breathing_space_started", {}, clock.now
        )
        again = record_debtor_event(
            session, debtor.id, "bs-9", "breathing_space_started", {}, clock.now
        )
    Runtime(db).tick(clock.now)
    held = states(db, "A1", "A2", "X1")

    with db.transaction() as session:
        ids = [case_row(session, e).id for e in ("A1", "A2")]
        assert set(active_holds(session, ids)) == {"breathing_space"}
        record_debtor_event(session, debtor.id, "bs-10", "breathing_space_ended", {}, clock.now)
    Runtime(db).tick(clock.now)

    assert cases == again == ["A1", "A2"]
    assert held == {
        "A1": ("held", "breathing_space"),
        "A2": ("held", "breathing_space"),
        "X1": ("active", None),
    }
    assert {s for s, _ in states(db, "A1", "A2").values()} == {"active"}
    with db.transaction() as session:
        assert active_holds(session, ids) == {}


def test_an_event_not_about_the_person_or_for_a_debtor_without_cases_is_refused(
    db: Database, clock: VirtualClock
) -> None:
    with db.transaction() as session:
        lonely = DebtorRow(
            external_id="EMPTY",
            name="Nobody",
            country="DE",
            locale="de-DE",
            timezone="Europe/Berlin",
            contact_prefs={},
            created_at=clock.now.replace(tzinfo=None),
            updated_at=clock.now.replace(tzinfo=None),
        )
        session.add(lonely)
        session.flush()
        with pytest.raises(NoCases):
            record_debtor_event(session, lonely.id, "i-1", "insolvency", {}, clock.now)
        with pytest.raises(Exception, match="type"):
            record_debtor_event(session, lonely.id, "d-1", "dispute_opened", {}, clock.now)


def test_a_new_case_of_a_held_person_takes_the_hold_and_a_released_one_does_not(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    open_cases(db, clock, published, A1="INSOLVENT", B1="RELEASED")
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        record_event(session, "A1", "ins-a", "insolvency", {}, clock.now)
        record_event(session, "B1", "bs-b", "breathing_space_started", {}, clock.now)
    Runtime(db).tick(clock.now)
    with db.transaction() as session:
        record_event(session, "B1", "bs-b-end", "breathing_space_ended", {}, clock.now)
    Runtime(db).tick(clock.now)

    open_cases(db, clock, published, A2="INSOLVENT", B2="RELEASED")
    Runtime(db).tick(clock.now)

    assert states(db, "A2", "B2") == {
        "A2": ("stopped", "insolvency"),
        "B2": ("active", None),
    }


def test_a_merge_into_a_debtor_without_an_address_keeps_the_cases_address(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    with db.transaction() as session:
        make_case(
            session,
            published,
            clock.now,
            external_id="A1",
            debtor_id="OLD",
            street="Altweg 1",
            postcode="10115",
            city="Berlin",
        )
        make_case(session, published, clock.now, external_id="B1", debtor_id="NEW", email=None)
    Runtime(db).tick(clock.now)

    with db.transaction() as session:
        result = merge_debtors(session, "OLD", "NEW", clock.now)
    Runtime(db).tick(clock.now)

    assert result.cases == ("A1",)
    with db.transaction() as session:
        moved = case_row(session, "A1")
        assert (moved.street, moved.city, moved.status) == ("Altweg 1", "Berlin", "active")


def test_a_moved_case_explains_the_move_in_both_languages(
    db: Database, clock: VirtualClock, published: VersionRow
) -> None:
    from engine import explain_case

    open_cases(db, clock, published, A1="OLD", B1="NEW")
    with db.transaction() as session:
        merge_debtors(session, "OLD", "NEW", clock.now)

    with db.transaction() as session:
        case_id = case_row(session, "A1").id
        english = [step.summary for step in explain_case(session, case_id, "en")]
        german = [step.summary for step in explain_case(session, case_id, "de")]

    assert "The case moved from debtor 'OLD' to debtor 'NEW'." in english
    assert "Der Fall wechselte vom Schuldner 'OLD' zum Schuldner 'NEW'." in german
