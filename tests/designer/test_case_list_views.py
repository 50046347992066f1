"""The case list: pages, filters, sorts, step labels, money in the reader's language, bad input."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from engine import open_case
from engine.storage.models import CaseRow
from mahnwerk_web.db import get_db
from tests.factories import case_data, example_doc, publish

NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def many(app: Flask) -> list[str]:
    """120 cases on the minimal journey: amounts 10..129 (three share 50), due dates a day apart,
    every third in Austria, every fifth held, the last ten moved to the reminder step."""
    ids: list[str] = []
    with app.app_context(), get_db().transaction() as session:
        version = publish(session, example_doc("minimal"), NOW)
        for i in range(120):
            amount = "50.00" if i in (40, 41, 42) else f"{10 + i}.00"
            due = (date(2026, 1, 1) + timedelta(days=i)).isoformat()
            data = case_data(
                external_id=f"LIST-{i:03d}",
                amount=amount,
                due_date=due,
                country="AT" if i % 3 == 0 else "DE",
            )
            row, _ = open_case(session, data, version, NOW)
            ids.append(row.external_id)
        session.execute(
            update(CaseRow)
            .where(CaseRow.external_id.in_([f"LIST-{i:03d}" for i in range(0, 120, 5)]))
            .values(status="held", hold_reason="dispute")
        )
        session.execute(
            update(CaseRow)
            .where(CaseRow.external_id.in_([f"LIST-{i:03d}" for i in range(110, 120)]))
            .values(node_id="reminder")
        )
    return ids


def shown(page: str) -> list[str]:
    """The case ids a result page lists, in order."""
    return re.findall(r">(LIST-\d{3})</a>", page)


def get(client: FlaskClient, url: str, **headers: str) -> str:
    response = client.get(url, headers=headers or ENGLISH)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def test_the_first_page_has_50_cases_and_says_how_many_in_all(
    manager: FlaskClient, many: list[str]
) -> None:
    page = get(manager, "/cases")
    assert len(shown(page)) == 50
    assert "Cases found: 120" in page and "page 1 of 3" in page
    assert 'rel="next" href="/cases?page=2"' in page


def test_pages_cover_every_case_once(manager: FlaskClient, many: list[str]) -> None:
    seen = [i for n in (1, 2, 3) for i in shown(get(manager, f"/cases?page={n}"))]
    assert sorted(seen) == sorted(many) and len(seen) == 120


def test_a_page_for_htmx_is_the_results_with_links_that_keep_the_filters(
    manager: FlaskClient, many: list[str]
) -> None:
    page = get(manager, "/cases?country=DE&page=2", **{"HX-Request": "true", **ENGLISH})
    assert "<html" not in page and 'hx-push-url="true"' in page
    assert "/cases?page=1&amp;country=DE" in page or "/cases?country=DE&amp;page=1" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("journey=minimal", 120),
        ("step=reminder", 10),
        ("status=held", 24),
        ("status=active", 96),
        ("hold=yes", 24),
        ("hold=no", 96),
        ("country=at", 40),
        ("amount_min=100", 30),
        ("amount_min=20&amount_max=29.50", 10),
        ("due_from=2026-01-11&due_to=2026-01-20", 10),
        ("q=LIST-11", 10),
        ("country=DE&hold=yes&amount_max=59", 6),
    ],
)
def test_each_filter(manager: FlaskClient, many: list[str], query: str, expected: int) -> None:
    page = get(manager, f"/cases?{query}")
    assert f"Cases found: {expected} ·" in page


def test_sort_by_amount_is_stable_across_pages(manager: FlaskClient, many: list[str]) -> None:
    first = shown(get(manager, "/cases?sort=amount"))
    assert first[:3] == ["LIST-000", "LIST-001", "LIST-002"]
    # LIST-040..042 share 50.00 with LIST-040 itself: equal amounts keep the id order.
    assert first.index("LIST-040") < first.index("LIST-041") < first.index("LIST-042")
    seen = [i for n in (1, 2, 3) for i in shown(get(manager, f"/cases?sort=amount&page={n}"))]
    assert len(set(seen)) == 120


def test_sort_descending_and_by_due_date(manager: FlaskClient, many: list[str]) -> None:
    assert shown(get(manager, "/cases?sort=-amount"))[0] == "LIST-119"
    assert shown(get(manager, "/cases?sort=-due"))[0] == "LIST-119"
    assert shown(get(manager, "/cases?sort=due"))[0] == "LIST-000"


def test_sort_by_step_and_status(manager: FlaskClient, many: list[str]) -> None:
    assert shown(get(manager, "/cases?sort=step"))[0] == "LIST-110"  # reminder before start
    assert shown(get(manager, "/cases?sort=status"))[0] == "LIST-001"  # active before held


def test_the_sort_header_links_toggle_and_say_the_order(
    manager: FlaskClient, many: list[str]
) -> None:
    page = get(manager, "/cases?sort=amount")
    assert 'aria-sort="ascending"' in page and "sort=-amount" in page


def test_steps_show_their_labels_not_node_ids(manager: FlaskClient, many: list[str]) -> None:
    page = get(manager, "/cases?step=reminder")
    assert "Friendly reminder" in page and "<code>reminder</code>" not in page


def test_amounts_are_formatted_in_the_readers_language(
    manager: FlaskClient, many: list[str]
) -> None:
    assert "€129.00" in get(manager, "/cases?sort=-amount")
    german = get(manager, "/cases?sort=-amount", **GERMAN)
    assert "129,00\xa0€" in german and "Gefundene Fälle: 120" in german


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("amount_min=abc", "Amount from"),
        ("amount_max=1e999", "Amount to"),
        ("amount_min=-5", "Amount from"),
        ("amount_min=10&amount_max=5", "Amount to"),
        ("due_from=2026-13-01", "Due from"),
        ("due_from=2026-02-01&due_to=2026-01-01", "Due to"),
        ("country=Germany", "Country"),
        ("status=sleeping", "Status"),
        ("hold=maybe", "On hold"),
        ("journey=nope", "Journey"),
        ("sort=name", "Sort"),
        ("page=0", "Page"),
        ("page=abc", "Page"),
        ("step=" + "x" * 65, "Step"),
    ],
)
def test_bad_input_names_the_field(
    manager: FlaskClient, many: list[str], query: str, label: str
) -> None:
    response = manager.get(f"/cases?{query}", headers=ENGLISH)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'role="alert"' in page and f">{label}</a>:" in page


def test_bad_input_for_htmx_is_swapped_in_and_german(manager: FlaskClient, many: list[str]) -> None:
    response = manager.get("/cases?amount_min=abc", headers={"HX-Request": "true", **GERMAN})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and ">Betrag ab</a>:" in page


def test_a_page_past_the_end_is_empty_not_an_error(manager: FlaskClient, many: list[str]) -> None:
    assert "No cases found." in get(manager, "/cases?page=99")


def test_choosing_a_journey_offers_its_steps_by_label(
    manager: FlaskClient, many: list[str]
) -> None:
    page = get(manager, "/cases?journey=minimal", **{"HX-Request": "true", **ENGLISH})
    assert 'id="step" name="step" hx-swap-oob="true"' in page
    assert '<option value="reminder" >Friendly reminder</option>' in page
