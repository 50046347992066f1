"""Review and publishing: the Review tab of a version, and the steps that take a journey live.

The lifecycle is the engine's (engine/authoring/lifecycle.py, README "Taking a journey live");
this blueprint shows it and calls it. Each action is a plain form POST (keyboard and no script
needed). A refusal (`engine.LifecycleError`) never becomes a 500: the page is shown again with
the engine's reason in the user's language, answering 403, 404, 409 or 422 by its kind. Forms
carry the content hash the user saw, so a form for a version that changed meanwhile says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from designer import report
from designer.diff import diff_documents
from designer.i18n import _, current_lang, localized, state_word
from designer.schema_form import palette, ports_of
from engine import (
    Actor,
    CompiledJourney,
    HistoryEntry,
    LifecycleError,
    approve_version,
    audit_head,
    cancel_scheduled_publish,
    comment_version,
    journey_sentences,
    journey_state,
    load_journey,
    new_draft_from,
    pause_journey,
    publish_preview,
    publish_version,
    published_version,
    queries,
    request_changes,
    retire_journey,
    submit_version,
    unpause_journey,
    utcnow,
    version_hash,
    version_history,
    version_problems,
    version_waivers,
    waive_finding,
)
from mahnwerk_web.db import transaction

bp = Blueprint("review", __name__, url_prefix="/journeys/<key>")

# The HTTP status of a refusal, by the kind of LifecycleError.
STATUS = {"unknown": 404, "forbidden": 403, "conflict": 409, "invalid": 422}


def actor() -> Actor:
    """The signed-in user as the engine's Actor."""
    return Actor.user(current_user.email, current_user.role)


def refusal(exc: LifecycleError) -> tuple[str, int]:
    """The engine's reason in the user's language, and the status answering it."""
    return exc.text(current_lang()), STATUS.get(exc.kind, 409)


class Stale(Exception):
    """The form was made for content that has changed since (its hash differs)."""


def stale(number: int) -> str:
    """A form for content that changed since the page was loaded."""
    return _("Version %(n)s changed since you opened this page: check it and try again.", n=number)


def check_seen(session: Any, key: str, number: int) -> None:
    """404 for no such version; Stale when the form's content hash is not the version's now."""
    version = queries.get_version(session, key, number)
    if version is None:
        abort(404)
    seen = request.form.get("content_hash", "")
    if seen and seen != version_hash(version):
        raise Stale


def action_words() -> dict[str, str]:
    """The steps of a version's history in words (the data keeps the English names)."""
    return {
        "submitted": _("submitted for review"),
        "approved": _("approved"),
        "changes_requested": _("requested changes"),
        "commented": _("commented"),
        "scheduled": _("chose a time to publish"),
        "unscheduled": _("cancelled the publish at a chosen time"),
        "published": _("published"),
        "publish_failed": _("could not publish at the chosen time"),
        "superseded": _("superseded by a newer version"),
        "moved": _("moved running cases to this version"),
        "paused": _("paused the journey"),
        "unpaused": _("unpaused the journey"),
        "retired": _("retired the journey"),
        "approvals_set": _("changed the approvals a version needs"),
        "waived": _("waived a compliance finding"),
        "experiment_promoted": _("promoted an experiment's winner to this new draft"),
    }


def base_version(versions: list[Any], number: int) -> Any:
    """What a version is compared with: the newest earlier version that was published (live,
    superseded or retired since), else the newest earlier approved one; None for the first."""
    earlier = [v for v in versions if v.number < number]
    for statuses in (("published", "superseded", "retired"), ("approved",)):
        for v in earlier:  # newest first
            if v.status in statuses:
                return v
    return None


def anchor_words(anchor: str | None, doc: dict[str, Any]) -> str:
    """Where a comment points: a step (by its label) or a template."""
    if not anchor:
        return ""
    if anchor.startswith("template:"):
        return _("on template '%(key)s'", key=anchor.removeprefix("template:"))
    labels = {n["id"]: n.get("label") or n["id"] for n in doc.get("nodes", [])}
    return _("on step '%(label)s' (%(id)s)", label=labels.get(anchor, anchor), id=anchor)


def rule_sentences(version: Any, lang: str) -> list[str]:
    """The compiled rules as sentences; none while a draft has problems (nothing compiled)."""
    try:
        compiled = CompiledJourney.from_json(version.compiled)
        return journey_sentences(compiled, load_journey(version.document), lang)
    except Exception:  # an unfinished draft: its problems are listed instead
        return []


@dataclass(frozen=True)
class Finding:
    """A compliance finding as the Review tab lists it, with the waiver given on it."""

    key: str
    grade: str
    code: str
    node: str | None
    field: str | None
    text: str
    waiver: HistoryEntry | None

    @classmethod
    def of(cls, problem: Any, lang: str, waivers: dict[str, HistoryEntry]) -> Finding:
        """The finding of a graded problem, in `lang`."""
        key = problem.finding_key
        return cls(
            key,
            problem.grade,
            problem.code,
            problem.node,
            problem.field,
            problem.text(lang),
            waivers.get(key),
        )

    @property
    def open(self) -> bool:
        """A HIGH finding nobody has waived: it holds up approval."""
        return self.grade == "HIGH" and self.waiver is None


def _page(key: str, number: int, error: str | None = None, status: int = 200) -> Any:
    """The Review tab of version `number`; with `error`, the reason a step was refused."""
    lang = current_lang()
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        version = queries.get_version(session, key, number)
        if journey is None or version is None or version.status == "simulation":
            abort(404)
        checked = version_problems(version)
        problems = checked if version.status == "draft" else []
        waivers = version_waivers(session, version)
        digest = version_hash(version)
        versions = queries.list_versions(session, key)
        history: list[HistoryEntry] = version_history(session, key, number)
        state = journey_state(session, journey)
    doc = version.document
    base = base_version(versions, number)
    changes = diff_documents(base.document, doc) if base is not None else None
    user = current_user.email.lower()
    return render_template(
        "review/show.html",
        journey=journey,
        version=version,
        document=doc,
        digest=digest,
        state=state,
        problems=[p.line(lang) for p in problems],
        # Warnings (HIGH and MED findings) are listed but never stop a submission.
        blocked=any(p.blocks for p in problems),
        findings=[Finding.of(p, lang, waivers) for p in checked if p.grade in ("HIGH", "MED")],
        base=base,
        changes=changes,
        marks=changes.node_marks() if changes is not None else {},
        sentences=[] if problems else rule_sentences(version, lang),
        templates=sorted((doc.get("templates") or {}).items()),
        history=history,
        actions=action_words(),
        anchor_words=lambda anchor: anchor_words(anchor, doc),
        own=user in {(version.author or "").lower(), (version.submitted_by or "").lower()},
        ports={n["id"]: ports_of(n["type"], n["params"]) for n in doc["nodes"]},
        palette=palette(localized),
        error=error,
    ), status


def _report_context(key: str, number: int) -> dict[str, Any]:
    """Everything the compliance report shows of version `number`."""
    lang = current_lang()
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        version = queries.get_version(session, key, number)
        if journey is None or version is None or version.status == "simulation":
            abort(404)
        checked = version_problems(version)
        waivers = version_waivers(session, version)
        versions = queries.list_versions(session, key)
        history = version_history(session, key, number)
        chain_head = audit_head(session)
    doc = version.document
    findings = [Finding.of(p, lang, waivers) for p in checked if p.grade]
    errors = [p.line(lang) for p in checked if p.blocks and not p.grade]
    base = base_version(versions, number)
    return {
        "journey": journey,
        "version": version,
        "document": doc,
        "digest": version_hash(version),
        "findings": findings,
        "errors": errors,
        "proofs": [] if errors else report.proof_lines(doc, findings),
        "variants": [] if errors else report.variant_lines(doc, findings),
        "sentences": [] if errors else rule_sentences(version, lang),
        "base": base,
        "changes": diff_documents(base.document, doc) if base is not None else None,
        "history": history,
        "chain_head": chain_head,
        "actions": action_words(),
        "anchor_words": lambda anchor: anchor_words(anchor, doc),
        "own": current_user.email.lower()
        in {(version.author or "").lower(), (version.submitted_by or "").lower()},
        "generated": utcnow(),
    }


@bp.get("/v<int:number>/report")
def report_page(key: str, number: int) -> Any:
    """The compliance report of a version, to approve from."""
    return report.render_report(**_report_context(key, number))


@bp.get("/v<int:number>/report.pdf")
def report_file(key: str, number: int) -> Response:
    """The compliance report as a PDF, for the file."""
    html = report.render_report(**_report_context(key, number), printable=True)
    name = f"{key}-v{number}-compliance-report.pdf"
    return Response(
        report.report_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/v<int:number>/review")
def show(key: str, number: int) -> Any:
    """The Review tab: state, problems, what changed, rules, templates, history, the steps."""
    return _page(key, number)


def _done(key: str, number: int, message: str) -> Response:
    flash(message)
    return redirect(url_for("review.show", key=key, number=number))


@bp.post("/v<int:number>/submit")
def submit(key: str, number: int) -> Any:
    """Send a draft without problems to review, with a note; it cannot change afterwards."""
    try:
        with transaction() as session:
            check_seen(session, key, number)
            submit_version(session, key, number, actor(), utcnow(), request.form.get("note"))
    except Stale:
        return _page(key, number, stale(number), 409)
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    return _done(key, number, _("Version %(n)s is submitted for review.", n=number))


@bp.post("/v<int:number>/new-draft")
def new_draft(key: str, number: int) -> Any:
    """Continue from any version (e.g. one sent back for changes) in a new draft."""
    if not current_user.can_edit:
        return _page(key, number, _("Your role cannot change journeys."), 403)
    try:
        with transaction() as session:
            row, _problems = new_draft_from(session, key, number, utcnow(), current_user.email)
            new = row.number
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    flash(_("Version %(n)s is a new draft, copied from version %(old)s.", n=new, old=number))
    target = "templates.index" if request.form.get("to") == "templates" else "journeys.editor"
    return redirect(url_for(target, key=key, number=new))


@bp.post("/v<int:number>/approve")
def approve(key: str, number: int) -> Any:
    """A reviewer's approval of exactly the content shown (its hash travels with the form)."""
    try:
        with transaction() as session:
            row = approve_version(
                session,
                key,
                number,
                actor(),
                utcnow(),
                request.form.get("note"),
                reviewed_hash=request.form.get("content_hash", ""),
            )
            approved, count = row.status == "approved", row.approvals
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    if approved:
        return _done(key, number, _("Version %(n)s is approved: it can be published.", n=number))
    return _done(key, number, _("Your approval is recorded (%(count)s so far).", count=count))


@bp.post("/v<int:number>/waive")
def waive(key: str, number: int) -> Any:
    """A reviewer's written waiver of one HIGH finding."""
    try:
        with transaction() as session:
            check_seen(session, key, number)
            waive_finding(
                session,
                key,
                number,
                actor(),
                utcnow(),
                request.form.get("finding", ""),
                request.form.get("note", ""),
            )
    except Stale:
        return _page(key, number, stale(number), 409)
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    return _done(key, number, _("The finding is waived; your reason is in the history."))


@bp.post("/v<int:number>/request-changes")
def changes(key: str, number: int) -> Any:
    """Send a version in review back, saying what should change."""
    try:
        with transaction() as session:
            check_seen(session, key, number)
            request_changes(session, key, number, actor(), utcnow(), request.form.get("note", ""))
    except Stale:
        return _page(key, number, stale(number), 409)
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    return _done(key, number, _("Version %(n)s is sent back for changes.", n=number))


@bp.post("/v<int:number>/comment")
def comment(key: str, number: int) -> Any:
    """A comment in the version's history, on a step or a template or the whole version."""
    try:
        with transaction() as session:
            comment_version(
                session,
                key,
                number,
                actor(),
                utcnow(),
                request.form.get("note", ""),
                anchor=request.form.get("anchor") or None,
            )
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    return _done(key, number, _("Your comment is in the history."))


# -- publish ------------------------------------------------------------------------------------


def _publish_page(key: str, number: int, error: str | None = None, status: int = 200) -> Any:
    """The publish dialog: what happens to running cases, per step, and the choices."""
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        version = queries.get_version(session, key, number)
        if journey is None or version is None or version.status == "simulation":
            abort(404)
        preview = publish_preview(session, key, number)
        current = published_version(session, key)
        state = journey_state(session, journey)
    form = request.form if request.method == "POST" else {}
    return render_template(
        "review/publish.html",
        journey=journey,
        version=version,
        state=state,
        preview=preview,
        lines=preview.lines(current_lang()),
        current=current.number if current is not None else None,
        chosen={
            "running": form.get("running", "stay"),
            "when": form.get("when", "now"),
            "at": form.get("at", ""),
            "note": form.get("note", ""),
        },
        error=error,
    ), status


@bp.get("/v<int:number>/publish")
def publish_dialog(key: str, number: int) -> Any:
    """Before publishing: the running cases per step, stay or move, now or at a time."""
    if not current_user.can_publish:
        return _page(key, number, _("Your role cannot publish journeys."), 403)
    return _publish_page(key, number)


def chosen_time(now: datetime) -> datetime | None:
    """The time chosen in the dialog (UTC), None for now; ValueError with the reason."""
    if request.form.get("when") != "at":
        return None
    raw = request.form.get("at", "").strip()
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(_("Choose a date and time to publish at.")) from None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    if at <= now:
        raise ValueError(_("Choose a time in the future, or publish now."))
    return at


@bp.post("/v<int:number>/publish")
def publish(key: str, number: int) -> Any:
    """Publish an approved version now or at a time; running cases stay or move."""
    now = utcnow()
    try:
        at = chosen_time(now)
    except ValueError as exc:
        return _publish_page(key, number, str(exc), 422)
    move = request.form.get("running") == "move"
    try:
        with transaction() as session:
            result = publish_version(
                session, key, number, actor(), now, move=move, at=at, note=request.form.get("note")
            )
    except LifecycleError as exc:
        return _publish_page(key, number, *refusal(exc))
    if result.scheduled_for is not None:
        when = result.scheduled_for.strftime("%Y-%m-%d %H:%M")
        return _done(
            key, number, _("Version %(n)s will be published at %(at)s UTC.", n=number, at=when)
        )
    return _done(
        key,
        number,
        _(
            "Version %(n)s is published. Cases moved to it: %(moved)s; staying: %(stayed)s.",
            n=number,
            moved=result.moved,
            stayed=result.staying,
        ),
    )


@bp.post("/v<int:number>/unschedule")
def unschedule(key: str, number: int) -> Any:
    """Forget a publish chosen for later; the version stays approved."""
    try:
        with transaction() as session:
            cancel_scheduled_publish(session, key, number, actor(), utcnow())
    except LifecycleError as exc:
        return _page(key, number, *refusal(exc))
    return _done(key, number, _("The publish at a chosen time is cancelled."))


# -- pause, unpause, retire ----------------------------------------------------------------------

STEPS = {"pause": pause_journey, "unpause": unpause_journey, "retire": retire_journey}


def _state_page(key: str, step: str, error: str | None = None, status: int = 200) -> Any:
    """The confirmation of a journey step: what it does, a note, confirm or go back."""
    with transaction() as session:
        journey = queries.journey_by_key(session, key)
        if journey is None or step not in STEPS:
            abort(404)
        state = journey_state(session, journey)
        newest = queries.get_version(session, key)
    back = request.values.get("back", type=int) or (newest.number if newest else 1)
    return render_template(
        "review/journey_step.html",
        journey=journey,
        step=step,
        state=state,
        back=back,
        note=request.form.get("note", ""),
        error=error,
    ), status


@bp.get("/<any(pause, unpause, retire):step>")
def confirm_step(key: str, step: str) -> Any:
    """Pause, unpause or retire: the confirmation first (with a note)."""
    if not current_user.can_publish:
        return _state_page(key, step, _("Your role cannot pause, unpause or retire journeys."), 403)
    return _state_page(key, step)


@bp.post("/<any(pause, unpause, retire):step>")
def journey_step(key: str, step: str) -> Any:
    """Pause, unpause or retire the journey, with the note given."""
    try:
        with transaction() as session:
            STEPS[step](session, key, actor(), utcnow(), request.form.get("note"))
            state = journey_state(session, queries.journey_by_key(session, key))
    except LifecycleError as exc:
        return _state_page(key, step, *refusal(exc))
    flash(_("The journey is %(state)s now.", state=state_word(state)))
    back = request.form.get("back", type=int)
    if back:
        return redirect(url_for("review.show", key=key, number=back))
    return redirect(url_for("journeys.index"))
