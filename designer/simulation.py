"""Simulation from the editor: run in a background thread, poll a progress fragment, then charts.

The run is a job in the database (engine.ops.jobs): the thread simulating stays in the web worker
that got the POST, but any worker answers the progress poll and shows the result, so
`mahnwerk serve` can run several workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, abort, current_app, redirect, request, url_for
from flask_babel import format_decimal
from flask_login import current_user

from designer import charts
from designer.auth import SIMULATE_ROLES, role_required
from designer.i18n import _, current_lang, money, word
from designer.render import page_or_partial
from engine import (
    AGENT_CAPACITY,
    InvalidJourney,
    Job,
    JobFailed,
    Progress,
    create_job,
    fail_job,
    get_job,
    queries,
    running_jobs,
    simulate,
    utcnow,
)
from engine import start_job as start_thread
from mahnwerk_web.db import get_db, transaction

bp = Blueprint("simulation", __name__)
KIND = "simulation"
CHANNEL_ORDER = ["email", "sms", "whatsapp", "letter", "webhook"]


@dataclass(frozen=True)
class Run:
    """One simulation run as its page shows it, read from its job."""

    id: str
    key: str
    number: int
    cases: int
    days: int
    seed: int
    done_days: int
    finished: bool
    percent: int
    result: dict[str, Any] | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, job: Job) -> Run:
        """The run stored as this job."""
        failed = job.error is not None
        return cls(
            id=job.id,
            key=job.params["key"],
            number=job.params["number"],
            cases=job.params["cases"],
            days=job.params["days"],
            seed=job.params["seed"],
            done_days=job.done,
            finished=job.finished,
            percent=job.percent,
            result=None if failed else job.result,
            error=job.error,
            problems=list((job.result or {}).get("problems", [])) if failed else [],
        )


def init_app(app: Flask) -> None:
    """How many simulations may run at once, over all web workers (they cost a CPU each)."""
    app.config.setdefault("SIMULATION_MAX_RUNNING", 2)


def _work(doc: dict[str, Any], params: dict[str, Any], lang: str) -> Any:
    """The job's work: simulate, reporting each finished day, and return the result as JSON."""

    def work(progress: Progress) -> dict[str, Any]:
        try:
            result = simulate(
                doc,
                cases=params["cases"],
                days=params["days"],
                seed=params["seed"],
                progress=progress,
                agents=params.get("agents", AGENT_CAPACITY),
            )
        except InvalidJourney as exc:
            # The job runs outside the request: problems in the language of who started it.
            problems = [p.line(lang) for p in exc.problems]
            raise JobFailed("invalid", {"problems": problems}) from exc
        return result.to_json()

    return work


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
    params = {
        "key": key,
        "number": number,
        "cases": _bounded("cases", 200, 1, config["SIMULATION_MAX_CASES"]),
        "days": _bounded("days", 30, 1, config["SIMULATION_MAX_DAYS"]),
        "seed": _bounded("seed", 1, 0, 2**31 - 1),
        # Simulated agents: tasks worked per queue per day (a journey's task steps).
        "agents": _bounded("agents", AGENT_CAPACITY, 0, 10_000),
    }
    db, now = get_db(), utcnow()
    with db.transaction() as session:  # count and add together: two requests cannot both pass
        busy = running_jobs(session, KIND, now) >= config["SIMULATION_MAX_RUNNING"]
        job = create_job(session, KIND, current_user.id, now, params, total=params["days"])
    if busy:
        fail_job(db, job.id, _("Too many simulations are running; try again soon."), now)
    else:
        start_thread(db, job, _work(doc, params, current_lang()))
    if request.headers.get("HX-Request"):
        return show(job.id)
    return redirect(url_for("simulation.show", run_id=job.id))


@bp.get("/simulations/<run_id>")
def show(run_id: str) -> str:
    """Progress while running (the fragment polls itself), then the charts."""
    job = get_job(get_db(), run_id, utcnow())
    if job is None or job.kind != KIND:
        abort(404)
    run = Run.of(job)
    context: dict[str, Any] = {"run": run, "number": format_decimal}
    if run.finished and run.result:
        context.update(_charts(run.result))
        with transaction() as session:
            version = queries.get_version(session, run.key, run.number)
        # The simulated cases owe the journey's currency (engine.simulation's portfolio).
        currency = str((version.document if version else {}).get("currency") or "EUR")
        context["collected"] = money(run.result.get("collected", "0"), currency)
    return page_or_partial("simulation/page.html", "simulation/_run.html", **context)


def _charts(result: dict[str, Any]) -> dict[str, Any]:
    per_day = result["per_day"]
    used = {c for day in per_day for c in day["messages"]}
    channels = [c for c in CHANNEL_ORDER if c in used] + sorted(used - set(CHANNEL_ORDER))
    outcomes = result["outcomes"]
    labels = {name: word(name.replace("open:", "open: ").replace("_", " ")) for name in outcomes}
    return {
        "channels": channels,
        "messages_chart": charts.stacked_days(
            per_day, "messages", channels, _("Messages per day by channel")
        ),
        "outcomes_chart": charts.horizontal_bars(outcomes, _("Outcomes"), labels),
        "suppressed": sorted(result["suppressed"].items(), key=lambda kv: -kv[1]),
    }
