"""The runtime's SQL: claimed rows become case states, and only changed columns are written."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime

from engine import Database
from engine.core.state import CaseState
from engine.run.store import (
    AUDIT,
    AUDIT_COLUMNS,
    CLAIMED,
    MUTABLE,
    OUTBOX,
    OUTBOX_COLUMNS,
    Writes,
    _case_updates,
    audit_values,
    case_values,
    claim_due,
    loaded_values,
    outbox_values,
    state_from_row,
)
from engine.storage.models import VersionRow
from tests.factories import make_case

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_claimed_columns_follow_the_case_state_fields() -> None:
    names = list(CLAIMED)
    at = names.index("street")
    names[at : at + 3] = ["address"]
    assert names == [f.name for f in fields(CaseState)]


def test_a_claimed_case_reads_back_as_it_was_stored(db: Database, published: VersionRow) -> None:
    with db.transaction() as session:
        make_case(session, published, NOW, external_id="INV-1", email="a@example.org")
    with db.transaction() as session:
        (row,) = claim_due(session, NOW, 10)
        cs = state_from_row(row)
    assert (cs.external_id, cs.email, cs.status, cs.arms) == (
        "INV-1",
        "a@example.org",
        "active",
        {},
    )
    assert case_values(cs) == loaded_values(row)  # as read: nothing to write but due/updated


def test_an_unchanged_case_writes_only_its_bookkeeping(db: Database, published: VersionRow) -> None:
    with db.transaction() as session:
        make_case(session, published, NOW, external_id="INV-1")
        (row,) = claim_due(session, NOW, 10)
    cs = state_from_row(row)
    writes = Writes(cases={cs.id: cs}, loaded={cs.id: loaded_values(row)})
    cs.visits += 1
    (columns,) = _case_updates(writes, NOW.replace(tzinfo=None))
    assert columns == ("id", "visits", "due_at", "updated_at")
    assert set(columns) - {"id", "due_at", "updated_at"} <= set(MUTABLE)


def test_outbox_and_audit_rows_name_their_columns() -> None:
    # Built by name (outbox_values, audit_values): only the store knows the order of the tuples.
    assert set(OUTBOX_COLUMNS) <= set(OUTBOX.c.keys())
    assert set(AUDIT_COLUMNS) <= set(AUDIT.c.keys())


def test_row_builders_return_their_parameters_in_column_order() -> None:
    """Each builder's tuple lists its parameters in their own order: the columns' order."""
    assert outbox_values(**{c: c for c in OUTBOX_COLUMNS}) == OUTBOX_COLUMNS
    assert audit_values(**{c: c for c in AUDIT_COLUMNS}) == AUDIT_COLUMNS


def test_a_postcode_without_a_street_is_kept(db: Database, published: VersionRow) -> None:
    """A case with a postcode but no street keeps it through a tick (the portal asks for it)."""
    with db.transaction() as session:
        make_case(session, published, NOW, external_id="INV-1", postcode="10115")
    with db.transaction() as session:
        (row,) = claim_due(session, NOW, 10)
        cs = state_from_row(row)
    assert cs.address == {"street": "", "postcode": "10115", "city": ""}
    assert case_values(cs) == loaded_values(row)  # written back as read: nothing lost
