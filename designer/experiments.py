"""The experiment page of a split: per arm the numbers, the time-to-pay curves, the verdict.

Reached from the split's side panel on the canvas. Its outcomes come through the engine's one
seam (engine.ExperimentOutcomes): from the live cases' outcome facts of a version that went
live (`?run=live`, engine.live_outcomes), or from a finished simulation of the version (the
newest, or the one named by `?run=`). A manager
promotes the winner from here: a new draft with the winner at 100 % (engine.promote_winner),
optionally submitted for review at once; the normal review and publish follow.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_login import current_user

from designer import charts
from designer.auth import EDIT_ROLES, role_required
from designer.i18n import _, current_lang
from designer.review import actor, refusal
from engine import (
    ExperimentOutcomes,
    ExperimentReport,
    LifecycleError,
    experiment_report,
    get_job,
    live_outcomes,
    promote_winner,
    queries,
    recent_jobs,
    submit_version,
    utcnow,
)
from mahnwerk_web.db import get_db, transaction

bp = Blueprint("experiments", __name__, url_prefix="/journeys/<key>/v<int:number>/experiments")
KM_DAYS = (1, 3, 7, 14, 21, 30, 45, 60, 90, 120, 180)  # the table under the curves


def num(value: float | None, places: int = 1) -> str:
    """A figure in the reader's language, with `places` decimals; a dash when unknown."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return "–"
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return str(format_decimal(value, format=pattern))


def pct(value: float | None, places: int = 1) -> str:
    """A share as a percentage ('41.3 %')."""
    return "–" if value is None else f"{num(value * 100, places)} %"


def _split(key: str, number: int, node_id: str) -> tuple[Any, dict[str, Any]]:
    with transaction() as session:
        version = queries.get_version(session, key, number)
        if version is None or version.status == "simulation":
            abort(404)
        doc = version.document
    node = next((n for n in doc.get("nodes", []) if n.get("id") == node_id), None)
    if node is None or node.get("type") != "split":
        abort(404)
    return version, node


def _runs(key: str, number: int) -> list[Any]:
    """Finished simulations of this version, newest first."""
    with transaction() as session:
        jobs = recent_jobs(session, "simulation")
    return [
        j
        for j in jobs
        if j.params.get("key") == key
        and j.params.get("number") == number
        and j.finished
        and j.error is None
    ]


LIVE = "live"  # the `run` value that reads the live cases' facts instead of a simulation


def _outcomes(key: str, number: int, run_id: str, node_id: str) -> ExperimentOutcomes | None:
    """The split's outcomes: its live cases (`run=live`), or a finished simulation of this
    very version (404 otherwise)."""
    if run_id == LIVE:
        with transaction() as session:
            version = queries.get_version(session, key, number)
            if version is None:
                abort(404)
            return live_outcomes(session, key, version.document, node_id, utcnow())
    job = get_job(get_db(), run_id, utcnow())
    if job is None or job.kind != "simulation" or not job.result:
        abort(404)
    if job.params.get("key") != key or job.params.get("number") != number:
        abort(404)
    found = [e for e in job.result.get("experiments", []) if e.get("node_id") == node_id]
    return ExperimentOutcomes.from_json(found[0]) if found else None


def _source(version: Any, key: str, number: int) -> tuple[str | None, list[Any], bool]:
    """The source to show (named; else the live cases of a version that went live; else the
    newest simulation), the simulations to choose from, and whether live cases can be shown."""
    runs = _runs(key, number)
    live = version.status in ("published", "superseded", "retired")
    default = LIVE if live else (runs[0].id if runs else None)
    return request.values.get("run") or default, runs, live


def _any_cases(data: ExperimentOutcomes | None) -> bool:
    return data is not None and any(arm.cases for arm in data.arms)


def _km_table(report: ExperimentReport) -> tuple[list[int], list[tuple[str, list[str]]]]:
    """Share paid per arm at fixed days: the chart's table alternative."""
    longest = max((a.curve.days[-1] for a in report.arms if a.curve and a.curve.days), default=0)
    days = [d for d in KM_DAYS if d <= max(longest, 1)] or [1]
    rows = []
    for arm in report.arms:
        cells = []
        for day in days:
            unpaid = 1.0
            if arm.curve is not None:
                for d, u in zip(arm.curve.days, arm.curve.unpaid, strict=True):
                    if d <= day:
                        unpaid = u
            cells.append(pct(1 - unpaid))
        rows.append((arm.arm, cells))
    return days, rows


def _counts(counts: dict[str, Any]) -> str:
    """'A: 1,012, B: 988' for the sample-ratio warning."""
    return ", ".join(f"{arm}: {num(n, 0)}" for arm, n in counts.items())


@bp.get("/<node_id>")
def show(key: str, number: int, node_id: str) -> Any:
    """The experiment page of one split of one version."""
    version, node = _split(key, number, node_id)
    run_id, runs, live = _source(version, key, number)
    data = _outcomes(key, number, run_id, node_id) if run_id else None
    if "run" not in request.values and run_id == LIVE and runs and not _any_cases(data):
        run_id = runs[0].id  # no live case yet: the newest simulation rather than nothing
        data = _outcomes(key, number, run_id, node_id)
    context: dict[str, Any] = {
        "key": key,
        "number": number,
        "version": version,
        "node": node,
        "runs": runs,
        "run_id": run_id,
        "live": live,
        "num": num,
        "pct": pct,
        "lang": current_lang(),
        "report": None,
    }
    if data is not None:
        report = experiment_report(data)
        days, km_rows = _km_table(report)
        srm = report.sample_ratio
        context.update(
            report=report,
            srm_observed=_counts(srm.observed if srm else {}),
            srm_expected=_counts(srm.expected if srm else {}),
            km_chart=charts.time_to_pay(
                [(a.arm, a.curve) for a in report.arms],
                _("Share of cases paid by day, per arm"),
                _("days"),
                _("paid"),
            ),
            km_days=days,
            km_rows=km_rows,
            guardrail_words={
                "disputes": _("Disputes"),
                "opt_outs": _("Opt-outs"),
                "complaints": _("Complaints"),
                "bounces": _("Bounces"),
            },
        )
    return render_template("experiments/show.html", **context)


@bp.post("/<node_id>/promote")
@role_required(EDIT_ROLES)
def promote(key: str, number: int, node_id: str) -> Any:
    """Promote the winner: a new draft with it at 100 %, submitted for review when asked."""
    _split(key, number, node_id)
    run_id = request.form.get("run", "")
    data = _outcomes(key, number, run_id, node_id) if run_id else None
    if data is None:
        abort(404)
    choice = request.form.get("holdout", "keep")
    if choice not in ("keep", "remove"):
        error = _("Field '%(field)s': %(problem)s", field="holdout", problem=_("keep or remove"))
        return render_template("field_error.html", error=error, back=None), 422
    report = experiment_report(data)  # computed again here: never trust a winner from a form
    keep = choice == "keep"
    try:
        with transaction() as session:
            draft, _problems = promote_winner(
                session,
                key,
                number,
                report,
                actor(),
                utcnow(),
                keep,
                source="live" if run_id == LIVE else "simulation",
            )
            new = draft.number
    except LifecycleError as exc:
        flash(refusal(exc)[0], "error")
        return redirect(url_for(".show", key=key, number=number, node_id=node_id, run=run_id))
    words = _(
        "Version %(n)s is a new draft with arm %(arm)s at 100 %%.", n=new, arm=report.verdict.winner
    )
    if request.form.get("submit") == "1":
        try:
            with transaction() as session:
                note = _("Promotes the winner of experiment %(e)s.", e=report.experiment)
                submit_version(session, key, new, actor(), utcnow(), note)
            words += " " + _("It is submitted for review.")
        except LifecycleError as exc:
            words += " " + refusal(exc)[0]
    flash(words)
    return redirect(url_for("review.show", key=key, number=new))


def can_promote() -> bool:
    """Whether the signed-in user may promote a winner."""
    return bool(current_user.is_authenticated and current_user.role in EDIT_ROLES)
