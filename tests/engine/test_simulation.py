"""Simulation: the real engine on a virtual clock, several at once in one process."""

from __future__ import annotations

import threading

from engine.simulation import SimulationResult, simulate
from tests.factories import journey_doc


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
