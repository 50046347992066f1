"""Bearer-token authentication: GET needs the `read` scope, every other method `write`
(the journey lifecycle's publish, pause, unpause, retire and approve: `publish`).

Tokens are checked against a per-app TokenCache: a request reads the database only when the
token was not seen in the last few seconds, and writes last_used_at at most once a minute.
"""

from __future__ import annotations

from flask import Flask, Request, current_app, g, request, session
from flask.wrappers import Response

from api.clock import now
from api.problems import CHALLENGE, UNAUTHORIZED, problem
from api.store import locked_transaction
from engine import CACHE_SECONDS, TokenCache, TokenInfo, session_user
from mahnwerk_web.db import transaction

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE = "mahnwerk_api_tokens"


def token_cache(app: Flask) -> TokenCache:
    """The app's token cache (API_TOKEN_CACHE_SECONDS, 1 by default; 0 reads every time)."""
    cache = app.extensions.get(CACHE)
    if cache is None:
        seconds = app.config.get("API_TOKEN_CACHE_SECONDS", CACHE_SECONDS)
        cache = app.extensions[CACHE] = TokenCache(locked_transaction, seconds)
    return cache


def bearer_value(header: str) -> str | None:
    """The token of an `Authorization` header's value `Bearer <token>`."""
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def bearer(req: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    return bearer_value(req.headers.get("Authorization", ""))


def current_token(req: Request) -> TokenInfo | None:
    """The verified token of this request (verified once, kept on `g`)."""
    if "api_token" not in g:
        token = bearer(req)
        info = None
        if token:
            info = token_cache(current_app).verify(token, now())
        g.api_token = info
    return g.api_token


def token() -> TokenInfo:
    """The token of the request being served (the blueprints check it first)."""
    info = current_token(request)
    assert info is not None
    return info


def check_request(write_scope: str = "write") -> Response | None:
    """Before every API view: a valid token with the scope the method needs, or a problem.

    GET needs `read`; other methods `write_scope` (`write`, or `publish` for the lifecycle).
    """
    info = current_token(request)
    if info is None:
        detail = UNAUTHORIZED if bearer(request) is None else "The API token is unknown or revoked."
        return problem(401, detail, kind="unauthorized", headers=CHALLENGE)
    scope = "read" if request.method in READ_METHODS else write_scope
    if not info.allows(scope):
        return problem(403, f"The API token lacks the '{scope}' scope.", kind="forbidden")
    return None


def _staff_signed_in() -> bool:
    """A designer user's signed session cookie (the same secret key; the API never sets one)."""
    sid = session.get("_user_id")
    if not isinstance(sid, str):
        return False
    with transaction() as db_session:
        return session_user(db_session, sid) is not None  # not signed out since


def protect_docs(app: Flask, blueprint_name: str) -> None:
    """The docs page and the OpenAPI document: for a token, or for a designer user's session."""

    @app.before_request
    def check_docs() -> Response | None:
        if request.blueprint != blueprint_name or _staff_signed_in():
            return None
        return check_request()
