"""Taking journeys live through the API: submit, review, publish, pause, unpause, retire.

Scopes: submitting needs `write` (it freezes a version and asks for review; it changes nothing
a debtor sees); publish, pause, unpause, retire, and approve or request changes on a named
reviewer's word need `publish`, the operator's scope. A refused step is a problem: 404 for an
unknown journey or version, 403 for a role that may not, 409 naming the state that refused it
(`state`), 422 for a draft with problems (each in `errors`) or a missing note.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import request
from flask.wrappers import Response
from flask_smorest import abort

from api import schemas
from api.auth import check_request, token
from api.blueprint import Blueprint
from api.clock import now
from api.store import write_transaction
from engine import (
    Actor,
    HasProblems,
    JourneyRow,
    LifecycleError,
    NodeCases,
    PublishResult,
    VersionRow,
    actor_for_user,
    approve_version,
    journey_state,
    pause_journey,
    publish_preview,
    publish_version,
    request_changes,
    retire_journey,
    submit_version,
    unpause_journey,
    version_history,
)
from mahnwerk_web.db import transaction

blp = Blueprint("api_lifecycle", __name__, description="Taking journeys live.")
SUBMIT = "api_lifecycle.submit"


@blp.before_request
def _check() -> Response | None:
    """Submit needs the write scope; every other step here the publish scope."""
    return check_request("write" if request.endpoint == SUBMIT else "publish")


_STATUS = {"unknown": 404, "forbidden": 403, "conflict": 409, "invalid": 422}


def _refuse(exc: LifecycleError) -> NoReturn:
    lang = _lang()
    errors = None
    if isinstance(exc, HasProblems):
        errors = {
            ".".join(p for p in ("nodes", problem.node, problem.field) if p): [problem.text(lang)]
            for problem in exc.problems
        }
    abort(
        _STATUS.get(exc.kind, 409),
        message=exc.text(lang),
        kind=f"journey-{exc.kind}",
        state=exc.state,
        errors=errors,
    )


def _me() -> Actor:
    return Actor.token(token().name)


def _version_out(session: Any, key: str, row: VersionRow) -> dict[str, Any]:
    journey = session.get(JourneyRow, row.journey_id)
    return {
        "journey": key,
        "number": row.number,
        "status": row.status,
        "approvals": row.approvals,
        "approvals_required": journey.approvals_required if journey else 1,
        "content_hash": row.content_hash,
        "approved_hash": row.approved_hash,
        "publish_at": row.publish_at,
    }


def _nodes(nodes: tuple[NodeCases, ...], lang: str) -> list[dict[str, Any]]:
    return [{**n.__dict__, "text": n.words().text(lang)} for n in nodes]


def _lang() -> str:
    return request.accept_languages.best_match(["en", "de"]) or "en"


@blp.post("/journeys/<key>/versions/<int:number>/submit")
@blp.arguments(schemas.NoteIn())
@blp.response(200, schemas.LifecycleVersionOut)
def submit(data: dict[str, Any], key: str, number: int) -> Any:
    """Send a draft without problems to review (scope write); it cannot change afterwards."""
    try:
        with write_transaction() as session:
            row = submit_version(session, key, number, _me(), now(), data["note"])
            return _version_out(session, key, row)
    except LifecycleError as exc:
        _refuse(exc)


@blp.post("/journeys/<key>/versions/<int:number>/approve")
@blp.arguments(schemas.ReviewIn())
@blp.response(200, schemas.LifecycleVersionOut)
def approve(data: dict[str, Any], key: str, number: int) -> Any:
    """Approve on a reviewer's word (scope publish); never the version's author or submitter."""
    try:
        with write_transaction() as session:
            reviewer = actor_for_user(session, data["reviewer"])
            row = approve_version(
                session,
                key,
                number,
                reviewer,
                now(),
                data["note"],
                data["content_hash"],
                via=_me().name,
            )
            return _version_out(session, key, row)
    except LifecycleError as exc:
        _refuse(exc)


@blp.post("/journeys/<key>/versions/<int:number>/request-changes")
@blp.arguments(schemas.ChangesIn())
@blp.response(200, schemas.LifecycleVersionOut)
def changes(data: dict[str, Any], key: str, number: int) -> Any:
    """Send a version back on a reviewer's word (scope publish); it stays as history."""
    try:
        with write_transaction() as session:
            reviewer = actor_for_user(session, data["reviewer"])
            row = request_changes(
                session, key, number, reviewer, now(), data["note"], via=_me().name
            )
            return _version_out(session, key, row)
    except LifecycleError as exc:
        _refuse(exc)


@blp.get("/journeys/<key>/versions/<int:number>/publish-preview")
@blp.response(200, schemas.PreviewOut)
def preview(key: str, number: int) -> Any:
    """Running cases of the older versions per step, and which would move."""
    try:
        with transaction() as session:
            found = publish_preview(session, key, number)
    except LifecycleError as exc:
        _refuse(exc)
    return {
        "journey": key,
        "version": number,
        "movable": found.movable,
        "staying": found.staying,
        "nodes": _nodes(found.nodes, _lang()),
    }


def _publish_out(result: PublishResult) -> dict[str, Any]:
    return {
        "journey": result.journey,
        "version": result.version,
        "scheduled_for": result.scheduled_for,
        "superseded": list(result.superseded),
        "moved": result.moved,
        "staying": result.staying,
        "stayed": _nodes(result.stayed, _lang()),
    }


@blp.post("/journeys/<key>/versions/<int:number>/publish")
@blp.arguments(schemas.PublishIn())
@blp.response(200, schemas.PublishOut)
def publish(data: dict[str, Any], key: str, number: int) -> Any:
    """Publish an approved version now or at `at` (scope publish), moving running cases or not."""
    try:
        with write_transaction() as session:
            result = publish_version(
                session,
                key,
                number,
                _me(),
                now(),
                move=data["move_running"],
                at=data["at"],
                note=data["note"],
            )
    except LifecycleError as exc:
        _refuse(exc)
    return _publish_out(result)


@blp.get("/journeys/<key>/versions/<int:number>/history")
@blp.response(200, schemas.HistoryOut)
def history(key: str, number: int) -> Any:
    """Who submitted, approved, commented, published ... this version, when and why."""
    try:
        with transaction() as session:
            entries = version_history(session, key, number)
    except LifecycleError as exc:
        _refuse(exc)
    return {"items": [e.__dict__ for e in entries]}


def _journey_step(step: Any, data: dict[str, Any], key: str) -> Any:
    try:
        with write_transaction() as session:
            journey = step(session, key, _me(), now(), data["note"])
            return {"journey": key, "state": journey_state(session, journey)}
    except LifecycleError as exc:
        _refuse(exc)


@blp.post("/journeys/<key>/pause")
@blp.arguments(schemas.NoteIn())
@blp.response(200, schemas.JourneyStateOut)
def pause(data: dict[str, Any], key: str) -> Any:
    """Pause a live journey (scope publish): no new cases; running cases wait at their step."""
    return _journey_step(pause_journey, data, key)


@blp.post("/journeys/<key>/unpause")
@blp.arguments(schemas.NoteIn())
@blp.response(200, schemas.JourneyStateOut)
def unpause(data: dict[str, Any], key: str) -> Any:
    """Let a paused journey run again (scope publish)."""
    return _journey_step(unpause_journey, data, key)


@blp.post("/journeys/<key>/retire")
@blp.arguments(schemas.NoteIn())
@blp.response(200, schemas.JourneyStateOut)
def retire(data: dict[str, Any], key: str) -> Any:
    """Retire a journey (scope publish): no new cases or versions; running cases finish."""
    return _journey_step(retire_journey, data, key)
