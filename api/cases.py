"""Cases: create or update by external id (one or 10,000 at once), read, list, timeline, close."""

from __future__ import annotations

from collections import Counter
from typing import Any, NoReturn

from flask import request
from flask_smorest import abort
from marshmallow import ValidationError

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.clock import now
from api.idempotency import KEY_DOC, idempotent
from api.problems import flatten
from api.store import write_transaction
from engine import (
    BadCursor,
    CaseFilter,
    CaseView,
    JourneyClosed,
    JourneyNotFound,
    UnknownCase,
    bulk_upsert_chunked,
    case_owed,
    decode_cursor,
    encode_cursor,
    explain_case,
    list_cases,
    record_event,
    timeline,
    upsert_case,
)
from engine import get_case as find_case
from mahnwerk_web.db import transaction

blp = Blueprint("api_cases", __name__, description="Cases handed over by the host system.")
blp.before_request(check_request)
IDEMPOTENT = {"parameters": [KEY_DOC]}


def case_out(view: CaseView) -> dict[str, Any]:
    """A case as the API shows it."""
    c = view.case
    return {
        **{k: getattr(c, k) for k in schemas.CaseOut._declared_fields if hasattr(c, k)},
        "journey": view.journey,
        "version": view.version,
        "node": c.node_id,
        "debtor": view.debtor,
        "amount": c.amount_original,
        "next_action_at": c.due_at,
    }


def load_case(session: Any, external_id: str) -> CaseView:
    """The case or a 404 problem."""
    view = find_case(session, external_id)
    if view is None:
        abort(404, message=f"There is no case with the id '{external_id}'.", kind="unknown-case")
    return view


def cursor_id(cursor: str | None) -> int | None:
    """The id behind a cursor, or a 422 problem naming the cursor."""
    if cursor is None:
        return None
    try:
        return decode_cursor(cursor)
    except BadCursor as exc:
        abort(422, errors={"cursor": [str(exc)]})
        raise  # unreachable: abort raises


def _upsert(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    journey = data.pop("journey", None)
    try:
        with write_transaction() as session:
            row, result = upsert_case(session, data, journey, now())
            view = load_case(session, row.external_id)
            body = {"result": result, "case": case_out(view)}
    except ValidationError as exc:
        abort(422, errors=exc.messages)
    except JourneyNotFound as exc:
        abort(422, errors={"journey": [str(exc)]})
    except JourneyClosed as exc:
        journey_closed(exc)
    return body, 201 if result == "created" else 200


def journey_closed(exc: JourneyClosed) -> NoReturn:
    """409: cases open only on a live journey; the problem names the journey's state."""
    abort(
        409,
        message=str(exc),
        kind="journey-not-live",
        state=exc.state,
        errors={"journey": [str(exc)]},
    )


@blp.post("/cases")
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(schemas.CaseIn())
@blp.response(200, schemas.CaseResultOut, description="The case existed and was updated.")
@blp.alt_response(201, schema=schemas.CaseResultOut, description="The case was created.")
def create_case(data: dict[str, Any]) -> Any:
    """Create a case, or update it when its external id is known."""
    return _upsert(data)


@blp.put("/cases/<external_id>")
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(schemas.CasePut())
@blp.response(200, schemas.CaseResultOut, description="The case existed and was updated.")
@blp.alt_response(201, schema=schemas.CaseResultOut, description="The case was created.")
def put_case(data: dict[str, Any], external_id: str) -> Any:
    """Create or update the case with this external id."""
    if data.get("external_id") not in (None, external_id):
        abort(422, errors={"external_id": ["Differs from the id in the URL."]})
    data["external_id"] = external_id
    return _upsert(data)


@blp.post("/cases/bulk")
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(schemas.BulkIn())
@blp.response(200, schemas.BulkOut)
def bulk_cases(data: dict[str, Any]) -> Any:
    """Create or update up to 10,000 cases; each gets its own result."""
    # A transaction per 1,000 cases, so events from other clients get in between; with an
    # Idempotency-Key the whole request is one transaction (each chunk a savepoint).
    results = bulk_upsert_chunked(write_transaction, data["cases"], data.get("journey"), now())
    return {
        "counts": dict(Counter(r.status for r in results)),
        "results": [{**r.__dict__, "errors": flatten(r.errors)} for r in results],
    }


@blp.get("/cases")
@blp.arguments(schemas.ListArgs(), location="query")
@blp.response(200, schemas.CasePageOut)
def list_all(args: dict[str, Any]) -> Any:
    """Cases by status, journey, node or last change, in pages (pass next_cursor on)."""
    after = cursor_id(args.get("cursor"))
    filters = CaseFilter(
        args.get("status"), args.get("journey"), args.get("node"), args.get("updated_since")
    )
    with transaction() as session:
        views, last = list_cases(session, filters, args["limit"], after)
        return {"items": [case_out(v) for v in views], "next_cursor": last}


@blp.get("/cases/<external_id>")
@blp.response(200, schemas.CaseOut)
def get_case(external_id: str) -> Any:
    """One case and where it stands."""
    with transaction() as session:
        view = load_case(session, external_id)
        return {**case_out(view), "owed": case_owed(session, view.case, now()).as_dict()}


@blp.get("/cases/<external_id>/timeline")
@blp.arguments(schemas.PageArgs(), location="query")
@blp.response(200, schemas.TimelineOut)
def case_timeline(args: dict[str, Any], external_id: str) -> Any:
    """The case's audit trail: every transition, message, suppression and decision."""
    after = cursor_id(args.get("cursor"))
    with transaction() as session:
        view = load_case(session, external_id)
        rows = timeline(session, view.case.id, args["limit"] + 1, after)
    more = len(rows) > args["limit"]
    rows = rows[: args["limit"]]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1].id) if more else None}


@blp.get("/cases/<external_id>/explanation")
@blp.arguments(schemas.ExplanationArgs(), location="query")
@blp.response(200, schemas.ExplanationOut)
def case_explanation(args: dict[str, Any], external_id: str) -> Any:
    """Why the debtor got each message: the case's steps in plain language (English or German).

    Each step names the rule that fired with the values its conditions saw, the contact-policy
    decision (deferred until when in the debtor's time zone, or suppressed and why), and the
    template variant chosen with its locale and tone fallbacks; `links` point at the rule's
    sentence on the designer's rules page of that version.
    """
    lang = args.get("lang") or request.accept_languages.best_match(["en", "de"]) or "en"
    after = cursor_id(args.get("cursor"))
    with transaction() as session:
        view = load_case(session, external_id)
        steps = explain_case(session, view.case.id, lang, args["limit"] + 1, after)
    more = len(steps) > args["limit"]
    steps = steps[: args["limit"]]
    return {
        "lang": lang,
        "items": [{**s.__dict__, "links": _rule_links(s)} for s in steps],
        "next_cursor": encode_cursor(steps[-1].id) if more else None,
    }


def _rule_links(step: Any) -> dict[str, str | None]:
    """The designer's rules page of the step's version (composed at / beside the API)."""
    if step.journey is None or step.version is None:
        return {"rule": None, "version": None}
    page = f"/journeys/{step.journey}/v{step.version}/rules"
    return {"rule": f"{page}#{step.rule_anchor}" if step.rule_anchor else None, "version": page}


@blp.post("/cases/<external_id>/close")
@idempotent
@blp.doc(**IDEMPOTENT)
@blp.arguments(schemas.CloseIn())
@blp.response(202, schemas.CaseOut, description="Closing is recorded; the next tick closes it.")
def close_case(data: dict[str, Any], external_id: str) -> Any:
    """Close or cancel a case: stored as a case_closed event that the next tick applies."""
    moment = now()
    with write_transaction() as session:
        view = load_case(session, external_id)
        event_id = data.get("event_id") or f"api-close-{view.case.id}"
        payload = {"reason": data["reason"], "note": data["note"]}
        try:
            record_event(session, external_id, event_id, "case_closed", payload, moment)
        except UnknownCase as exc:  # pragma: no cover - load_case found it a moment ago
            abort(404, message=str(exc))
        return case_out(load_case(session, external_id))
