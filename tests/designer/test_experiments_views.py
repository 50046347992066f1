"""The experiment page: numbers per arm, curves with their table, the verdict, promotion."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine import ArmOutcomes, ExperimentOutcomes, queries, save_version, utcnow, version_history
from engine.ops.jobs import create_job, finish_job
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import split_doc

KEY = "split-journey"
PAGE = f"/journeys/{KEY}/v1/experiments/test"
START = date(2026, 1, 5)


def outcomes(rate_b: float, n: int = 3000) -> dict[str, Any]:
    """An experiment's outcomes as a simulation stores them: A pays at 20 %, B at `rate_b`."""
    rng = np.random.default_rng(5)
    arms = []
    for name, rate in (("A", 0.2), ("B", rate_b)):
        arm = ArmOutcomes(name, 50)
        for i in range(n):
            paid = bool(rng.random() < rate)
            days = float(rng.integers(1, 20)) if paid else 30.0
            arm.add(START + timedelta(days=i % 5), paid, 10_000 * paid, days, 12)
        arms.append(arm)
    data = ExperimentOutcomes("reminder-test", "test", START + timedelta(days=30), arms, 9, START)
    return data.to_json()


@pytest.fixture
def split_journey(app: Flask) -> None:
    with app.app_context(), get_db().transaction() as session:
        save_version(session, split_doc(), utcnow(), status="published", author="admin@example.org")


def stored_run(app: Flask, experiments: list[dict], key: str = KEY, number: int = 1) -> str:
    """A finished simulation job of the version, as the designer stores one."""
    params = {"key": key, "number": number, "cases": 6000, "days": 30, "seed": 1}
    with app.app_context():
        db = get_db()
        with db.transaction() as session:
            job = create_job(session, "simulation", 1, utcnow(), params, total=30)
        finish_job(db, job.id, {"experiments": experiments}, utcnow())
    return job.id


def test_the_page_shows_verdict_numbers_and_curves(
    manager: FlaskClient, app: Flask, split_journey: None
) -> None:
    stored_run(app, [outcomes(0.3)])
    page = manager.get(PAGE).get_data(as_text=True)
    assert "B collects 48.5 % more per case" in page
    assert "this will not change with more data" in page
    assert page.count('class="arm arm-') == 2  # one Kaplan-Meier curve per arm
    assert 'id="km-table"' in page and "day 7" in page  # the chart as a table
    assert 'id="arms-table"' in page and '<th scope="row">B' in page
    assert 'id="btn-promote"' in page and "Promote B to 100 %" in page
    assert 'id="power-table"' in page


def test_the_page_speaks_german(manager: FlaskClient, app: Flask, split_journey: None) -> None:
    stored_run(app, [outcomes(0.3)])
    manager.post("/lang/de")
    page = manager.get(PAGE).get_data(as_text=True)
    assert "B bringt pro Fall 48,5 % mehr ein" in page
    assert "Urteil" in page and "Zeit bis zur Zahlung" in page


def test_without_a_simulation_the_page_offers_one(
    manager: FlaskClient, split_journey: None
) -> None:
    page = manager.get(PAGE).get_data(as_text=True)
    assert "No outcomes yet" in page and "Run simulation" in page


@pytest.mark.parametrize(
    "url",
    [
        f"/journeys/{KEY}/v1/experiments/nowhere",
        f"/journeys/{KEY}/v1/experiments/firm",  # a send step, not a split
        f"/journeys/{KEY}/v9/experiments/test",
        f"{PAGE}?run=no-such-run",
    ],
)
def test_what_does_not_exist_is_404(manager: FlaskClient, split_journey: None, url: str) -> None:
    assert manager.get(url).status_code == 404


def test_a_run_of_another_journey_is_not_shown_here(
    manager: FlaskClient, app: Flask, split_journey: None
) -> None:
    run = stored_run(app, [outcomes(0.3)], key="other")
    assert manager.get(f"{PAGE}?run={run}").status_code == 404


def test_the_manager_promotes_the_winner_into_review(
    manager: FlaskClient, app: Flask, split_journey: None
) -> None:
    run = stored_run(app, [outcomes(0.3)])
    response = manager.post(f"{PAGE}/promote", data={"run": run, "submit": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/journeys/{KEY}/v2/review")
    page = manager.get(response.headers["Location"]).get_data(as_text=True)
    assert "Version 2 is a new draft with arm B at 100 %" in page
    assert "submitted for review" in page
    with app.app_context(), get_db().transaction() as session:
        version = queries.get_version(session, KEY, 2)
        assert version is not None and version.status == "in_review"
        split = next(n for n in version.document["nodes"] if n["id"] == "test")
        assert [a["weight"] for a in split["params"]["arms"]] == [0, 100]
        actions = [h.action for h in version_history(session, KEY, 2)]
    assert actions == ["experiment_promoted", "submitted"]
    assert "promoted an experiment" in page


def test_no_winner_no_button_and_no_promotion(
    manager: FlaskClient, app: Flask, split_journey: None
) -> None:
    run = stored_run(app, [outcomes(0.2, n=200)])
    page = manager.get(PAGE).get_data(as_text=True)
    assert "No difference yet" in page and 'id="btn-promote"' not in page
    response = manager.post(f"{PAGE}/promote", data={"run": run}, follow_redirects=True)
    assert "no winner yet" in response.get_data(as_text=True)
    with app.app_context(), get_db().transaction() as session:
        assert queries.get_version(session, KEY, 2) is None


@pytest.mark.parametrize("role", ["viewer", "reviewer"])
def test_only_managers_promote(
    client: FlaskClient, app: Flask, split_journey: None, role: str
) -> None:
    run = stored_run(app, [outcomes(0.3)])
    login(client, role)
    assert 'id="btn-promote"' not in client.get(PAGE).get_data(as_text=True)
    assert client.post(f"{PAGE}/promote", data={"run": run}).status_code == 403


def test_the_canvas_links_a_split_to_its_experiment_page(
    manager: FlaskClient, split_journey: None
) -> None:
    page = manager.get(f"/journeys/{KEY}/v1").get_data(as_text=True)
    assert f"/journeys/{KEY}/v1/experiments/__NODE__" in page


def test_a_simulation_links_to_its_experiment_page(
    manager: FlaskClient, split_journey: None
) -> None:
    response = manager.post(f"/journeys/{KEY}/v1/simulate", data={"cases": 40, "days": 10})
    url = response.headers["Location"]
    for _ in range(600):
        page = manager.get(url).get_data(as_text=True)
        if "sim-done" in page:
            break
        time.sleep(0.1)
    run = url.rsplit("/", 1)[1]
    link = f"/journeys/{KEY}/v1/experiments/test?run={run}"
    assert link in page
    shown = manager.get(link).get_data(as_text=True)
    assert 'id="verdict"' in shown and 'id="km-table"' in shown


def test_a_hostile_holdout_choice_is_refused_naming_the_field(
    manager: FlaskClient, app: Flask, split_journey: None
) -> None:
    run = stored_run(app, [outcomes(0.3)])
    response = manager.post(f"{PAGE}/promote", data={"run": run, "holdout": "<script>"})
    assert response.status_code == 422
    assert "Field &#39;holdout&#39;" in response.get_data(as_text=True)
