"""The Idempotency-Key header: the first answer is stored and replayed for the same request.

Looking the key up, running the view and storing its answer share one write transaction (the
view's `write_transaction()` joins it), so a keyed request costs no more transactions than an
unkeyed one, and the answer is stored if and only if the view's writes are.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, make_response, request

from api.auth import token
from api.clock import now
from api.problems import PROBLEM_JSON, problem
from api.store import write_transaction
from engine import MAX_KEY, find_answer, request_hash, store_answer

HEADER = "Idempotency-Key"
F = TypeVar("F", bound=Callable[..., Any])
KEY_DOC = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
    "description": "Repeat a request safely: the first answer is stored and returned again.",
}


def valid_key(key: str) -> bool:
    """Whether an Idempotency-Key is one this API keeps answers for (1 to MAX_KEY characters)."""
    return 0 < len(key) <= MAX_KEY


def _replay(status: int, body: str) -> Response:
    mimetype = PROBLEM_JSON if status >= 400 else "application/json"
    response = Response(body, status=status, mimetype=mimetype)
    response.headers["Idempotent-Replayed"] = "true"
    return response


def idempotent(view: F) -> F:
    """Answer a repeated Idempotency-Key with the stored answer; a changed body is a conflict."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not valid_key(key):
            return problem(
                422, "The Idempotency-Key is empty or too long.", {HEADER: [f"1-{MAX_KEY}."]}
            )
        info = token()
        fingerprint = request_hash(request.method, request.path, request.get_data())
        with write_transaction() as session:
            stored = find_answer(session, info.id, key)
            if stored is not None:
                return _replay_or_conflict(stored.request_hash, fingerprint, stored)
            response = make_response(view(*args, **kwargs))
            if response.status_code >= 500:
                return response
            answer = (response.status_code, response.get_data(as_text=True))
            kept = store_answer(
                session, info.id, key, fingerprint, request.method, request.path, answer, now()
            )
        if kept.request_hash != fingerprint:
            return _replay_or_conflict(kept.request_hash, fingerprint, kept)
        return response

    return wrapped  # type: ignore[return-value]


def _replay_or_conflict(stored_hash: str, fingerprint: str, stored: Any) -> Response:
    if stored_hash != fingerprint:
        return problem(
            422,
            "This Idempotency-Key was used for a different request (method, path or body).",
            {HEADER: ["Already used for a different request."]},
            kind="idempotency-key-conflict",
        )
    return _replay(stored.status_code, stored.body)
