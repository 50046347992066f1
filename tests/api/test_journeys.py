"""Journeys: list, versions, assign a case that has not started, a small simulation."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient

from engine import Database, Runtime, VirtualClock
from tests.api.conftest import case_json
from tests.factories import journey_doc, publish, template


def test_journeys_are_listed(client: FlaskClient, auth: dict[str, str]) -> None:
    items = client.get("/api/v1/journeys", headers=auth).json["items"]
    assert [j["key"] for j in items] == ["minimal"]


def test_versions_are_listed(client: FlaskClient, auth: dict[str, str]) -> None:
    items = client.get("/api/v1/journeys/minimal/versions", headers=auth).json["items"]
    assert [(v["number"], v["status"]) for v in items] == [(1, "published")]


def test_versions_of_an_unknown_journey_are_404(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get("/api/v1/journeys/nope/versions", headers=auth).status_code == 404


def test_a_new_case_can_move_to_another_journey(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        publish(session, journey_doc(), clock.now)
    client.post("/api/v1/cases", json=case_json(journey="minimal"), headers=auth)
    response = client.put(
        "/api/v1/cases/INV-1/journey", json={"journey": "test-journey"}, headers=auth
    )
    assert response.json["journey"] == "test-journey"


def test_a_started_case_does_not_move(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        publish(session, journey_doc(), clock.now)
    client.post("/api/v1/cases", json=case_json(journey="minimal"), headers=auth)
    Runtime(api_db).tick(clock.now)
    response = client.put(
        "/api/v1/cases/INV-1/journey", json={"journey": "test-journey"}, headers=auth
    )
    assert response.status_code == 409


def test_with_two_journeys_a_case_must_name_one(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    with api_db.transaction() as session:
        publish(session, journey_doc(), clock.now)
    response = client.post("/api/v1/cases", json=case_json(), headers=auth)
    assert list(response.json["errors"]) == ["journey"]


def test_a_small_simulation_runs(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/journeys/minimal/simulations", json={"cases": 3, "days": 2}, headers=auth
    )
    assert (response.status_code, response.json["cases"]) == (200, 3)


def test_a_simulation_of_a_looping_template_answers_with_the_budget_error(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    # Issue 15, point 2: a looping template froze the API. Its loop depends on the case, so
    # the version validates; each render stops at its budget and the answer names the template.
    looping = "{% for i in range(9000) %}{% for c in reference * 10000 %}.{% endfor %}{% endfor %}"
    doc = journey_doc(key="looping", templates={"reminder": template(body=looping)})
    with api_db.transaction() as session:
        publish(session, doc, clock.now)

    started = time.perf_counter()
    response = client.post(
        "/api/v1/journeys/looping/simulations", json={"cases": 5, "days": 2}, headers=auth
    )

    assert time.perf_counter() - started < 10
    assert response.status_code == 200
    assert response.json["messages"] == {}
    [reason] = response.json["render_errors"]
    assert reason.startswith("Template 'reminder' (email, en-GB, tone 1) of journey 'looping'")
    assert "over its budget" in reason


def test_a_big_simulation_is_refused(client: FlaskClient, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/journeys/minimal/simulations", json={"cases": 500, "days": 2}, headers=auth
    )
    assert list(response.json["errors"]) == ["cases"]


def test_messages_of_a_case_are_listed(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    client.post("/api/v1/cases", json=case_json(), headers=auth)
    runtime = Runtime(api_db)
    runtime.tick(clock.now)
    runtime.tick(clock.now + timedelta(days=8))  # minimal.json waits until D+7 09:00
    items: list[dict[str, Any]] = client.get("/api/v1/cases/INV-1/messages", headers=auth).json[
        "items"
    ]
    assert [(m["channel"], m["template"]) for m in items] == [("email", "reminder")]


def test_a_simulation_with_a_split_answers_each_experiments_verdict(
    client: FlaskClient, auth: dict[str, str], api_db: Database, clock: VirtualClock
) -> None:
    from tests.factories import split_doc

    with api_db.transaction() as session:
        publish(session, split_doc(), clock.now)
    response = client.post(
        "/api/v1/journeys/split-journey/simulations", json={"cases": 5, "days": 2}, headers=auth
    )
    assert response.status_code == 200
    [experiment] = response.json["experiments"]
    assert experiment["experiment"] == "reminder-test" and experiment["node"] == "test"
    assert experiment["source"] == "simulation"
    assert sum(arm["cases"] for arm in experiment["arms"].values()) == 5
    assert experiment["verdict"]  # in words; too early for a winner after 2 days
    assert experiment["winner"] is None
