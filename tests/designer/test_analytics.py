"""The journey's numbers in the designer: canvas overlay data, dashboard page, EN and DE."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import Runtime, record_event, utcnow
from mahnwerk_web.db import get_db
from tests.factories import example_doc, make_case, publish

KEY = example_doc("minimal")["key"]


@pytest.fixture
def running(app: Flask) -> None:
    """The minimal journey published, four cases entered today and one paid in full."""
    now = utcnow()
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            version = publish(session, example_doc("minimal"), now - timedelta(hours=1))
            cases = [make_case(session, version, now, amount="100.00") for _ in range(4)]
            paid = cases[0].external_id
        Runtime(db).tick(now)
        with db.transaction() as session:
            record_event(
                session,
                paid,
                "pay-1",
                "payment_received",
                {"amount": "100.00", "currency": "EUR"},
                now,
            )
        Runtime(db).tick(now + timedelta(minutes=1))


def test_the_canvas_numbers_come_as_json(viewer: FlaskClient, running: None) -> None:
    answer = viewer.get(f"/journeys/{KEY}/numbers.json")
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["steps"]["start"]["entered"] == 4
    assert sum(s["waiting"] for s in data["steps"].values()) == 3
    start_wire = next(w for w in data["wires"] if w["node"] == "start")
    assert (start_wire["cases"], start_wire["paid"], start_wire["paid_share"]) == (4, 1, 0.25)


def test_a_bad_period_is_refused_naming_the_field(viewer: FlaskClient, running: None) -> None:
    answer = viewer.get(f"/journeys/{KEY}/numbers.json?since=2026-13-01")
    assert answer.status_code == 400
    assert answer.get_json()["field"] == "since"
    answer = viewer.get(f"/journeys/{KEY}/numbers.json?since=2026-03-02&until=2026-03-01")
    assert (answer.status_code, answer.get_json()["field"]) == (400, "until")


def test_the_dashboard_shows_figures_charts_and_tables(viewer: FlaskClient, running: None) -> None:
    page = viewer.get(f"/journeys/{KEY}/dashboard?cure_days=14").get_data(as_text=True)
    assert "Journey dashboard" in page
    assert 'id="dash-figures"' in page and "25.0 %" in page  # one of four paid in full
    assert page.count('<svg class="chart"') == 4
    assert page.count("<details>") == 4  # every chart has its table
    assert "Cure rate within 14 days" in page


def test_the_dashboard_speaks_german(viewer: FlaskClient, running: None) -> None:
    viewer.post("/lang/de")
    page = viewer.get(f"/journeys/{KEY}/dashboard").get_data(as_text=True)
    assert "Dashboard der Strecke" in page
    assert "Als Tabelle" in page


def test_a_bad_cure_window_names_the_field(viewer: FlaskClient, running: None) -> None:
    answer = viewer.get(f"/journeys/{KEY}/dashboard?cure_days=0")
    assert answer.status_code == 400
    assert "Cure window" in answer.get_data(as_text=True)


def test_an_empty_period_says_so(viewer: FlaskClient, running: None) -> None:
    page = viewer.get(f"/journeys/{KEY}/dashboard?since=2020-01-01&until=2020-01-31")
    assert 'id="dash-empty"' in page.get_data(as_text=True)


def test_unknown_journeys_are_404(viewer: FlaskClient) -> None:
    assert viewer.get("/journeys/nope/dashboard").status_code == 404
    assert viewer.get("/journeys/nope/numbers.json").status_code == 404


def test_the_editor_offers_the_numbers_toggle(viewer: FlaskClient, running: None) -> None:
    page = viewer.get(f"/journeys/{KEY}/v1").get_data(as_text=True)
    assert 'id="btn-numbers"' in page and 'aria-pressed="false"' in page
    assert "js/canvas_numbers.js" in page
    assert 'id="numbers-table"' in page
