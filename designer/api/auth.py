"""Bearer-token authentication: GET needs the `read` scope, every other method `write`.

Tokens are checked against a per-app TokenCache: a request reads the database only when the
token was not seen in the last few seconds, and writes last_used_at at most once a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, current_app, g, request
from flask.wrappers import Response

from designer.api.clock import now
from designer.api.problems import CHALLENGE, UNAUTHORIZED, problem
from designer.api.store import locked_transaction
from engine.access.api_tokens import CACHE_SECONDS, TokenCache, TokenInfo

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


def check_request() -> Response | None:
    """Before every API view: a valid token with the scope the method needs, or a problem."""
    info = current_token(request)
    if info is None:
        detail = UNAUTHORIZED if bearer(request) is None else "The API token is unknown or revoked."
        return problem(401, detail, kind="unauthorized", headers=CHALLENGE)
    scope = "read" if request.method in READ_METHODS else "write"
    if not info.allows(scope):
        return problem(403, f"The API token lacks the '{scope}' scope.", kind="forbidden")
    return None


@dataclass
class ApiClient:
    """A host system authenticated by token, as Flask-Login sees it."""

    info: TokenInfo
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False
    role: str = "api"

    def get_id(self) -> str:
        """Flask-Login's id (never stored in a session: API requests carry no cookie)."""
        return f"api-token:{self.info.id}"


def cooperate_with_login(app: Flask, blueprint_names: list[str], prefix: str) -> None:
    """Let API requests with a token past the designer sign-in; others get 401, no redirect."""
    manager = getattr(app, "login_manager", None)
    if manager is None:
        return
    for name in blueprint_names:
        manager.blueprint_login_views[name] = None  # Flask-Login then aborts with 401
    previous = manager._request_callback

    def load_from_request(req: Request) -> Any:
        if req.path.startswith(prefix + "/") or req.path == prefix:
            info = current_token(req)
            return ApiClient(info) if info else None
        return previous(req) if previous else None

    manager.request_loader(load_from_request)
