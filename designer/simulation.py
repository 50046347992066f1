"""Simulation from the editor: run in a background thread, poll a progress fragment, then charts."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from designer import charts
from designer.auth import SIMULATE_ROLES, role_required
from designer.db import transaction
from designer.i18n import _
from designer.render import page_or_partial
from engine import InvalidJourney, queries, simulate

bp = Blueprint("simulation", __name__)
KEY = "mahnwerk_simulations"
KEEP = 20  # finished runs kept in memory for their result pages
CHANNEL_ORDER = ["email", "sms", "letter", "webhook"]


@dataclass
class Run:
    """One simulation run and how far it got."""

    id: str
    key: str
    number: int
    cases: int
    days: int
    seed: int
    user_id: int
    done_days: int = 0
    finished: bool = False
    result: dict[str, Any] | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        return 100 if self.finished else int(100 * self.done_days / max(self.days, 1))


class Runs:
    """The runs of this process, guarded by a lock because worker threads update them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: dict[str, Run] = {}

    def add(self, run: Run) -> None:
        """Keep a new run, forgetting the oldest finished ones."""
        with self.lock:
            finished = [r.id for r in self.runs.values() if r.finished]
            for old in finished[: max(len(finished) - KEEP, 0)]:
                del self.runs[old]
            self.runs[run.id] = run

    def get(self, run_id: str) -> Run | None:
        """The run with this id."""
        with self.lock:
            return self.runs.get(run_id)

    def running(self) -> int:
        """How many runs are still going."""
        with self.lock:
            return sum(not r.finished for r in self.runs.values())


def init_app(app: Flask) -> None:
    """Keep the runs on the app."""
    app.extensions[KEY] = Runs()


def _runs() -> Runs:
    runs = current_app.extensions.get(KEY)
    if runs is None:
        runs = current_app.extensions[KEY] = Runs()
    return runs


def _work(run: Run, doc: dict[str, Any]) -> None:
    """The thread: simulate and record progress and the result on the run."""

    def progress(done: int, total: int) -> None:
        run.done_days = done

    try:
        result = simulate(doc, cases=run.cases, days=run.days, seed=run.seed, progress=progress)
        run.result = result.to_json()
    except InvalidJourney as exc:
        run.error = "invalid"
        run.problems = [str(p) for p in exc.problems]
    except Exception as exc:  # the page must show any failure instead of polling forever
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        run.finished = True


def _bounded(name: str, default: int, low: int, high: int) -> int:
    value = request.form.get(name, type=int)
    return min(max(value if value is not None else default, low), high)


@bp.post("/journeys/<key>/v<int:number>/simulate")
@role_required(SIMULATE_ROLES)
def start(key: str, number: int) -> Any:
    """Start a simulation of this version and show its progress."""
    with transaction() as session:
        version = queries.get_version(session, key, number)
        if version is None:
            abort(404)
        doc = version.document
    config = current_app.config
    run = Run(
        id=uuid.uuid4().hex,
        key=key,
        number=number,
        cases=_bounded("cases", 200, 1, config["SIMULATION_MAX_CASES"]),
        days=_bounded("days", 30, 1, config["SIMULATION_MAX_DAYS"]),
        seed=_bounded("seed", 1, 0, 2**31 - 1),
        user_id=current_user.id,
    )
    runs = _runs()
    if runs.running() >= config.get("SIMULATION_MAX_RUNNING", 2):
        run.finished, run.error = True, _("Too many simulations are running; try again soon.")
        runs.add(run)
    else:
        runs.add(run)
        threading.Thread(target=_work, args=(run, doc), daemon=True, name=f"sim-{run.id}").start()
    if request.headers.get("HX-Request"):
        return show(run.id)
    return redirect(url_for("simulation.show", run_id=run.id))


@bp.get("/simulations/<run_id>")
def show(run_id: str) -> str:
    """Progress while running (the fragment polls itself), then the charts."""
    run = _runs().get(run_id)
    if run is None:
        abort(404)
    context: dict[str, Any] = {"run": run}
    if run.finished and run.result:
        context.update(_charts(run.result))
    return page_or_partial("simulation/page.html", "simulation/_run.html", **context)


def _charts(result: dict[str, Any]) -> dict[str, Any]:
    per_day = result["per_day"]
    used = {c for day in per_day for c in day["messages"]}
    channels = [c for c in CHANNEL_ORDER if c in used] + sorted(used - set(CHANNEL_ORDER))
    outcomes = result["outcomes"]
    labels = {name: _(name.replace("open:", "open: ").replace("_", " ")) for name in outcomes}
    return {
        "channels": channels,
        "messages_chart": charts.stacked_days(
            per_day, "messages", channels, _("Messages per day by channel")
        ),
        "outcomes_chart": charts.horizontal_bars(outcomes, _("Outcomes"), labels),
        "suppressed": sorted(result["suppressed"].items(), key=lambda kv: -kv[1]),
    }
