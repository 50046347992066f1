"""Simulation: the real engine on a virtual clock, several at once in one process."""

from __future__ import annotations

import threading

import pytest

import engine.run.runtime
from engine.simulation import SimulationResult, simulate
from tests.factories import journey_doc, template


def test_simulations_in_threads_at_once_all_succeed() -> None:
    results: list[SimulationResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def run() -> None:
        start.wait()
        try:
            results.append(simulate(journey_doc(), cases=5, days=2, step_hours=12))
        except BaseException as exc:  # counted and shown below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [r.cases for r in results] == [5] * 8


RENDER_FAILURE = (
    "template 'reminder' (en-GB, tone 1) failed to render: integer division or modulo by zero"
)


def failing_template() -> dict:
    """A journey whose template passes validation but fails for every case at render."""
    return journey_doc(templates={"reminder": template(body="Pay {{ 1 // 0 }}")})


def test_render_failures_are_reported_not_hidden_behind_closed_cases() -> None:
    result = simulate(failing_template(), cases=20, days=5, seed=1)

    assert result.messages == {}
    assert result.failed == {RENDER_FAILURE: 20 - result.suppressed["no_address"]}
    assert result.to_json()["failed"] == dict(result.failed)


def test_engine_errors_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.run.runtime, "MAX_STEPS_PER_TICK", 1)

    result = simulate(journey_doc(), cases=10, days=2, seed=1)

    assert result.errors == {"RuntimeError: too many steps in one tick (a loop?)": 10}
    assert result.outcomes == {"open:stopped": 10}
    assert result.to_json()["errors"] == dict(result.errors)
