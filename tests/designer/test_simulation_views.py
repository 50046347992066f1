"""Simulation: started in a thread, polled as a fragment from any worker, finished with charts."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from engine import utcnow
from engine.ops.jobs import (
    STALE_AFTER,
    STALE_ERROR,
    create_job,
    finish_job,
    get_job,
    record_progress,
)
from mahnwerk_web.db import get_db

PARAMS = {"key": "minimal", "number": 1, "cases": 20, "days": 12, "seed": 1}


def _wait(client: FlaskClient, url: str) -> str:
    for _ in range(300):
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        if "every 500ms" not in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the simulation did not finish")


def _job(app: Flask, **changes: Any) -> str:
    """A simulation job stored as the POST would store it."""
    with app.app_context(), get_db().transaction() as session:
        now = changes.pop("now", utcnow())
        return create_job(session, "simulation", 1, now, {**PARAMS, **changes}, total=12).id


def test_start_returns_a_polling_fragment(manager: FlaskClient, journey: Any) -> None:
    response = manager.post(
        "/journeys/minimal/v1/simulate",
        data={"cases": 5, "days": 3},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in page or 'id="sim-done"' in page


def test_another_worker_polls_the_run_and_shows_the_charts(
    manager: FlaskClient, elsewhere: FlaskClient, journey: Any
) -> None:
    response = manager.post("/journeys/minimal/v1/simulate", data={"cases": 20, "days": 12})
    page = _wait(elsewhere, response.headers["Location"])
    assert page.count("<svg") == 2 and "series-email" in page
    assert "v1: 20 cases, 12 days, seed 1." in page


def test_the_whole_result_page_comes_from_another_worker(
    manager: FlaskClient, elsewhere: FlaskClient, journey: Any
) -> None:
    location = manager.post("/journeys/minimal/v1/simulate", data={"cases": 5, "days": 2}).headers[
        "Location"
    ]
    _wait(elsewhere, location)
    page = elsewhere.get(location).get_data(as_text=True)
    assert "<h1>Simulation</h1>" in page and 'href="/journeys/minimal/v1"' in page


def test_the_progress_fragment_shows_days_done(app: Flask, elsewhere: FlaskClient) -> None:
    run_id = _job(app)
    with app.app_context():
        record_progress(get_db(), run_id, 3, 12, utcnow())
    page = elsewhere.get(f"/simulations/{run_id}", headers={"HX-Request": "true"})
    text = page.get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in text and 'value="25"' in text
    assert "day 3 of 12" in text


def test_a_finished_run_shows_engine_errors_and_messages_not_sent(
    app: Flask, elsewhere: FlaskClient
) -> None:
    run_id = _job(app, days=1)
    result = {
        "cases": 3,
        "days": 1,
        "seed": 1,
        "messages": {},
        "outcomes": {"closed": 2, "open:stopped": 1},
        "end_nodes": {"closed": 2},
        "suppressed": {},
        "errors": {"RuntimeError: too many steps in one tick (a loop?)": 1},
        "failed": {"template 'reminder' (en-GB, tone 1) failed to render: boom": 2},
        "collected": "0.00",
        "open": 1,
        "per_day": [{"day": 1, "messages": {}, "suppressed": {}, "closed": 2, "open": 1}],
    }
    with app.app_context():
        finish_job(get_db(), run_id, result, utcnow())

    text = elsewhere.get(f"/simulations/{run_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    assert "What would go wrong live" in text
    assert "Case stopped by an engine error: RuntimeError: too many steps" in text
    assert "Message not sent: template &#39;reminder&#39; (en-GB, tone 1) failed" in text


def test_a_run_whose_process_died_shows_why_and_stops_polling(
    app: Flask, elsewhere: FlaskClient
) -> None:
    run_id = _job(app, now=utcnow() - STALE_AFTER - timedelta(seconds=5))
    text = elsewhere.get(f"/simulations/{run_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "every 500ms" not in text and STALE_ERROR in text


def test_numbers_are_bounded(app: Flask, manager: FlaskClient, journey: Any) -> None:
    app.config["SIMULATION_MAX_CASES"] = 3
    response = manager.post("/journeys/minimal/v1/simulate", data={"cases": 999, "days": 1})
    with app.app_context():
        job = get_job(get_db(), response.headers["Location"].rsplit("/", 1)[1], utcnow())
    assert job is not None and (job.params["cases"], job.params["days"]) == (3, 1)


def test_the_running_limit_counts_every_worker(
    app: Flask, manager: FlaskClient, journey: Any
) -> None:
    app.config["SIMULATION_MAX_RUNNING"] = 1
    _job(app)  # running, as if started by another worker
    response = manager.post("/journeys/minimal/v1/simulate", data={"cases": 5, "days": 1})
    page = _wait(manager, response.headers["Location"])
    assert "Too many simulations are running" in page


def test_unknown_run_is_404(manager: FlaskClient) -> None:
    assert manager.get("/simulations/nope").status_code == 404


def test_an_import_is_not_a_simulation(app: Flask, manager: FlaskClient) -> None:
    with app.app_context(), get_db().transaction() as session:
        params = {"filename": "cases.csv", "journey": "minimal"}
        import_id = create_job(session, "import", 1, utcnow(), params).id
    assert manager.get(f"/simulations/{import_id}").status_code == 404


def _finished(app: Flask, **changes: Any) -> str:
    """A finished run of the minimal journey (EUR) with a held case and a missing address."""
    run_id = _job(app, days=1)
    result = {
        "cases": 1200,
        "days": 1,
        "seed": 1,
        "messages": {"email": 1500},
        "outcomes": {"paid": 2, "open:held": 1, "handed_over": 1},
        "end_nodes": {},
        "suppressed": {"no_address": 3},
        "errors": {},
        "failed": {"no_address": 1},
        "collected": "22547.63",
        "open": 1,
        "per_day": [{"day": 1, "messages": {"email": 1500}, "suppressed": {}, "closed": 2}],
        **changes,
    }
    with app.app_context():
        finish_job(get_db(), run_id, result, utcnow())
    return run_id


def test_totals_have_their_currency_in_the_readers_language(
    app: Flask, manager: FlaskClient, journey: Any
) -> None:
    url = f"/simulations/{_finished(app)}"
    english = manager.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    german = manager.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Collected: €22,547.63" in english and "1,200 cases" in english
    assert "22.547,63\xa0€" in german and "1.200" in german and "1.500" in german


def test_reasons_and_outcomes_are_words_in_both_languages(
    app: Flask, manager: FlaskClient, journey: Any
) -> None:
    url = f"/simulations/{_finished(app)}"
    english = manager.get(url, headers={"Accept-Language": "en"}).get_data(as_text=True)
    german = manager.get(url, headers={"Accept-Language": "de"}).get_data(as_text=True)
    for page in (english, german):
        texts = " ".join(re.findall(r">([^<]+)<", page))  # what a reader sees, not CSS classes
        assert "no_address" not in texts and "open:held" not in texts
        assert "handed_over" not in texts
    assert "open: held" in english and "handed over" in english
    assert "Message not sent: no address" in english and "<td>no address</td>" in english
    assert "keine Adresse" in german and "offen: angehalten" in german and "abgegeben" in german


def test_a_run_with_tasks_shows_what_the_agents_worked(app: Flask, elsewhere: FlaskClient) -> None:
    run_id = _job(app, days=1)
    tasks = {"created": 9, "worked": 5, "done": 2, "not_reached": 3, "not_worked": 4}
    result = {
        "cases": 9,
        "days": 1,
        "seed": 1,
        "messages": {},
        "outcomes": {"open:active": 9},
        "end_nodes": {},
        "suppressed": {},
        "errors": {},
        "failed": {},
        "collected": "0.00",
        "open": 9,
        "tasks": tasks,
        "per_day": [{"day": 1, "messages": {}, "suppressed": {}, "closed": 0, "open": 9}],
    }
    with app.app_context():
        finish_job(get_db(), run_id, result, utcnow())

    text = elsewhere.get(f"/simulations/{run_id}", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    table = text[text.index('id="sim-tasks"') :]
    assert "Tasks for people" in text
    assert re.search(r"Worked by agents</td><td class=\"num\">5<", table)
    assert re.search(r"Not worked \(waiting, or timed out\)</td><td class=\"num\">4<", table)
