"""The designer's case list query on a few thousand cases: totals, filters, stable pages, plans."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, text

from engine import Database, queries
from engine.storage.models import CaseRow, VersionRow
from tests.factories import example_doc, publish

N = 3000
NOW = datetime(2026, 3, 2, 8)
NODES = ("start", "wait_7", "reminder", "wait_pay", "second")


def row(i: int, version_id: int) -> dict[str, Any]:
    """Case i: amounts repeat every 7 (ties for the sort), due dates every 90 days."""
    return {
        "external_id": f"Q-{i:05d}",
        "version_id": version_id,
        "node_id": NODES[i % len(NODES)],
        "status": "held" if i % 4 == 0 else "active",
        "hold_reason": "dispute" if i % 4 == 0 else None,
        "debtor_name": f"Debtor {i}",
        "country": "AT" if i % 3 == 0 else "DE",
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "amount_original": Decimal(10 + i % 7),
        "amount_open": Decimal(10 + i % 7),
        "due_date": date(2026, 1, 1) + timedelta(days=i % 90),
        "created_at": NOW,
        "updated_at": NOW,
    }


def fill(db: Database, count: int) -> VersionRow:
    with db.transaction() as session:
        version = publish(session, example_doc("minimal"), NOW)
        if count:
            session.execute(insert(CaseRow), [row(i, version.id) for i in range(count)])
    return version


@pytest.fixture
def filled(db: Database) -> Database:
    fill(db, N)
    return db


def everything(db: Database, **filters: Any) -> list[queries.CaseListRow]:
    """Every page of a query, in order."""
    found: list[queries.CaseListRow] = []
    with db.transaction() as session:
        page = 1
        while True:
            result = queries.list_case_page(
                session, queries.CaseListQuery(page=page, per_page=500, **filters)
            )
            found.extend(result.rows)
            if page >= result.pages:
                return found
            page += 1


@pytest.mark.parametrize(
    ("filters", "keep"),
    [
        ({}, lambda i: True),
        ({"journey": "minimal"}, lambda i: True),
        ({"status": "held"}, lambda i: i % 4 == 0),
        ({"hold": False}, lambda i: i % 4 != 0),
        ({"country": "at"}, lambda i: i % 3 == 0),
        ({"step": "reminder"}, lambda i: i % 5 == 2),
        ({"amount_min": Decimal(15)}, lambda i: i % 7 >= 5),
        ({"amount_min": Decimal(11), "amount_max": Decimal(12)}, lambda i: i % 7 in (1, 2)),
        ({"due_from": date(2026, 1, 1), "due_to": date(2026, 1, 10)}, lambda i: i % 90 < 10),
        ({"text": "q-0001"}, lambda i: 10 <= i <= 19),
    ],
)
def test_filters_match_exactly_the_cases_they_describe(
    filled: Database, filters: dict[str, Any], keep: Any
) -> None:
    with filled.transaction() as session:
        first = queries.list_case_page(session, queries.CaseListQuery(**filters))
    expected = {f"Q-{i:05d}" for i in range(N) if keep(i)}
    assert first.total == len(expected)
    assert {r.case.external_id for r in everything(filled, **filters)} == expected


@pytest.mark.parametrize("sort", queries.CASE_SORTS)
@pytest.mark.parametrize("descending", [False, True])
def test_pages_of_a_sort_with_ties_cover_every_case_once_in_order(
    filled: Database, sort: str, descending: bool
) -> None:
    found = everything(filled, sort=sort, descending=descending)
    assert len({r.case.id for r in found}) == N == len(found)
    column = {"due": "due_date", "amount": "amount_open", "step": "node_id", "status": "status"}
    keys = [(getattr(r.case, column[sort]), r.case.id) for r in found]
    assert keys == sorted(keys, reverse=descending)


def test_rows_carry_the_step_label_of_their_version(filled: Database) -> None:
    with filled.transaction() as session:
        page = queries.list_case_page(session, queries.CaseListQuery(step="reminder"))
    assert {r.step_label for r in page.rows} == {"Friendly reminder"}


def test_an_unknown_sort_is_refused(filled: Database) -> None:
    with filled.transaction() as session, pytest.raises(ValueError, match="sort"):
        queries.list_case_page(session, queries.CaseListQuery(sort="debtor_name"))


@pytest.mark.parametrize(
    ("sort", "index"),
    [("due", "ix_cases_list_due"), ("amount", "ix_cases_list_amount")],
)
def test_postgresql_reads_a_sorted_page_from_its_index(
    pg_db: Database, sort: str, index: str
) -> None:
    version = fill(pg_db, 0)
    with pg_db.transaction() as session:
        session.execute(insert(CaseRow), [row(i, version.id) for i in range(20_000)])
        session.execute(text("ANALYZE cases"))
    query = queries.case_page_statement(queries.CaseListQuery(sort=sort, descending=True))
    with pg_db.transaction() as session:
        compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))
    assert index in plan and "Sort" not in plan.split(index)[0], plan
