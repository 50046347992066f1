"""Simulation: started in a thread, polled as a fragment, finished with SVG charts."""

from __future__ import annotations

import time
from typing import Any

from flask.testing import FlaskClient

from designer.simulation import KEY


def _wait(client: FlaskClient, url: str) -> str:
    for _ in range(300):
        page = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        if "every 500ms" not in page:
            return page
        time.sleep(0.1)
    raise AssertionError("the simulation did not finish")


def test_start_returns_a_polling_fragment(manager: FlaskClient, journey: Any) -> None:
    response = manager.post(
        "/journeys/minimal/v1/simulate",
        data={"cases": 5, "days": 3},
        headers={"HX-Request": "true"},
    )
    page = response.get_data(as_text=True)
    assert 'hx-trigger="every 500ms"' in page or 'id="sim-done"' in page


def test_finished_run_shows_charts(app: Any, manager: FlaskClient, journey: Any) -> None:
    response = manager.post("/journeys/minimal/v1/simulate", data={"cases": 20, "days": 12})
    page = _wait(manager, response.headers["Location"])
    assert page.count("<svg") == 2 and "series-email" in page


def test_numbers_are_bounded(app: Any, manager: FlaskClient, journey: Any) -> None:
    app.config["SIMULATION_MAX_CASES"] = 3
    manager.post("/journeys/minimal/v1/simulate", data={"cases": 999, "days": 1})
    run = next(iter(app.extensions[KEY].runs.values()))
    assert run.cases == 3


def test_unknown_run_is_404(manager: FlaskClient) -> None:
    assert manager.get("/simulations/nope").status_code == 404
