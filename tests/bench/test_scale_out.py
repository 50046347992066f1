"""bench/scale_out.py end to end on a few hundred cases: its own PostgreSQL, 1 and 2 workers."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CASES = 300


def test_scale_out_times_one_and_two_workers_over_every_due_case() -> None:
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        pytest.importorskip("pgserver")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "scale_out.py"),
            "--cases",
            str(CASES),
            "--workers",
            "1",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)

    runs = {run["workers"]: run for run in figures["runs"]}
    assert set(runs) == {1, 2}
    for run in runs.values():
        # minimal.json: wait_7 -> reminder -> wait_pay, one message per case with an address.
        assert (run["cases"], run["transitions"]) == (CASES, 2 * CASES)
        assert 0 < run["messages"] <= CASES and run["case_steps_per_s"] > 0
        assert len(run["per_worker_peak_rss_mb"]) == run["workers"]
        # Where the sessions were: sampled from pg_stat_activity while the workers ran.
        assert 0 < run["machine_cpu_busy"] <= 1 and len(run["load_average_before"]) == 3
        assert run["sessions_by_state"] and all(n >= 0 for n in run["sessions_by_state"].values())
    assert runs[1]["messages"] == runs[2]["messages"]
    assert runs[1]["speed_up"] == 1.0 and figures["floor_case_steps_per_s"] > 0
