"""GET the journey's numbers and dashboard: the figures the engine kept, errors naming fields."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from engine import Database, Runtime, VirtualClock
from engine.storage.models import VersionRow
from tests.factories import example_doc, make_case

KEY = example_doc("minimal")["key"]


def run_three_cases(api_db: Database, clock: VirtualClock) -> None:
    with api_db.transaction() as session:
        version = session.scalars(select(VersionRow)).one()
        for _ in range(3):
            make_case(session, version, clock.now)
    Runtime(api_db).tick(clock.now)


def test_numbers_per_step_and_wire(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    run_three_cases(api_db, clock)
    answer = client.get(f"/api/v1/journeys/{KEY}/numbers", headers=auth)
    assert answer.status_code == 200, answer.json
    body = answer.json
    start = body["steps"]["start"]
    assert start["entered"] == 3 and start["waiting"] == 0
    assert sum(s["waiting"] for s in body["steps"].values()) == 3
    wire = next(w for w in body["wires"] if w["node"] == "start")
    assert (wire["cases"], wire["share"], wire["paid_share"]) == (3, 1.0, 0.0)
    assert body["until"] == clock.now.date().isoformat()


def test_dashboard_of_the_cohort(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    run_three_cases(api_db, clock)
    answer = client.get(f"/api/v1/journeys/{KEY}/dashboard?cure_days=14", headers=auth)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["cases"], body["cure_days"], body["paid_full"]) == (3, 14, 0)
    assert body["money"][0]["original_minor"] == 3 * 25000
    assert len(body["cure_curve"]) == 15


def test_a_period_ending_before_it_starts_names_the_field(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    answer = client.get(
        f"/api/v1/journeys/{KEY}/numbers?since=2026-03-10&until=2026-03-01", headers=auth
    )
    assert answer.status_code == 422
    assert "until" in answer.json["errors"]


def test_bad_query_values_name_the_field(client: FlaskClient, auth: dict[str, str]) -> None:
    answer = client.get(f"/api/v1/journeys/{KEY}/dashboard?cure_days=0&since=x", headers=auth)
    assert answer.status_code == 422
    assert {"cure_days", "since"} <= set(answer.json["errors"])


def test_an_unknown_journey_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get("/api/v1/journeys/nope/numbers", headers=auth).status_code == 404


def test_numbers_need_a_token(client: FlaskClient) -> None:
    assert client.get(f"/api/v1/journeys/{KEY}/dashboard").status_code == 401
