"""Errors as application/problem+json (RFC 9457), each naming the fields it is about."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://mahnwerk.dev/problems/"
log = logging.getLogger(__name__)
UNAUTHORIZED = "Send a valid API token: Authorization: Bearer <token>."
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mahnwerk"'}


class ProblemSchema(Schema):
    """A problem: what kind, what went wrong, and which fields."""

    type = fields.String(metadata={"description": "URI naming the kind of problem."})
    title = fields.String(metadata={"description": "Short summary of the kind of problem."})
    status = fields.Integer(metadata={"description": "The HTTP status code."})
    detail = fields.String(metadata={"description": "What went wrong in this request."})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field (dotted path) -> messages."},
    )
    state = fields.String(
        metadata={
            "description": "On a 409 of the journey lifecycle: the journey's or version's state "
            "that refused the request (draft, in_review, approved, published, paused, retired ...)."
        }
    )


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested marshmallow messages as {dotted.field: [messages]}."""
    if isinstance(messages, dict):
        found: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = str(key) if key != "_schema" or not prefix else ""
            path = ".".join(p for p in (prefix, name) if p) or "_schema"
            for field_path, texts in flatten(value, path).items():
                found.setdefault(field_path, []).extend(texts)
        return found
    if isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "_schema": list(messages)}
        found = {}
        for m in messages:
            for field_path, texts in flatten(m, prefix).items():
                found.setdefault(field_path, []).extend(texts)
        return found
    return {prefix or "_schema": [str(messages)]}


def problem(
    status: int,
    detail: str,
    errors: dict[str, list[str]] | None = None,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    state: str | None = None,
) -> Response:
    """A problem+json response."""
    title = _TITLES.get(status) or "Error"
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if state:
        body["state"] = state
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def from_http_exception(error: HTTPException) -> Response:
    """A problem for an HTTPException, with webargs' validation messages as named fields."""
    data = getattr(error, "data", None) or {}
    status = error.code or 500
    errors = None
    if "messages" in data:
        # webargs nests messages by location ("json", "query", ...): the field name is enough.
        errors = flatten({k: v for loc in data["messages"].values() for k, v in _items(loc)})
    elif "errors" in data:
        errors = flatten(data["errors"])
    detail = data.get("message") or (
        "The request has invalid fields." if errors else (error.description or error.name)
    )
    headers = dict(data.get("headers") or {})
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return problem(
        status, str(detail), errors, kind=data.get("kind"), headers=headers, state=data.get("state")
    )


def _items(location: Any) -> list[tuple[str, Any]]:
    return list(location.items()) if isinstance(location, dict) else [("_schema", location)]


def is_api_request(prefix: str) -> bool:
    """Whether the current request is for the API (its errors are problems, not HTML)."""
    return request.path == prefix or request.path.startswith(prefix + "/")


def make_handler(prefix: str) -> Any:
    """An app-wide HTTPException handler: problems for the API, Flask's default elsewhere."""

    def handle(error: HTTPException) -> Any:
        if not is_api_request(prefix):
            return error
        if isinstance(error, InternalServerError):
            log.error("API request failed", exc_info=error.original_exception)
            return problem(500, "The server could not handle the request.")
        if error.code == 401 and not getattr(error, "data", None):
            return problem(401, UNAUTHORIZED, kind="unauthorized", headers=CHALLENGE)
        return from_http_exception(error)

    return handle
