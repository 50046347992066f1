"""The host-system REST API at /api/v1: flask-smorest on the engine's marshmallow schemas.

`init_app(app)` registers it; errors under /api are application/problem+json, the OpenAPI
document is /api/v1/openapi.json and the interactive docs (vendored Swagger UI) /api/v1/docs.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from designer.api import auth, hot_path, problems
from designer.api.schemas import (
    EventItemIn,
    EventItemResultOut,
    ItemResultOut,
    decimal_bounds,
    items_ref,
)

PREFIX = "/api/v1"
EXTENSION = "mahnwerk_api"
SWAGGER_UI = "swagger-ui-dist-5.35.0"
DESCRIPTION = (
    "Drive Mahnwerk from a billing system, shop or ERP: hand over cases, report payments and "
    "disputes, read where a case stands. Authenticate with `Authorization: Bearer <token>` "
    "(`mahnwerk token add`); GET needs the read scope, everything else write. Errors are "
    "application/problem+json (RFC 9457) naming the fields in `errors`."
)


class ProblemApi(Api):
    """flask-smorest's Api, documenting and answering errors as problem+json."""

    ERROR_SCHEMA = problems.ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        default = {"description": "A problem (RFC 9457).", "schema": self.ERROR_SCHEMA}
        prepare_response(default, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(HTTPException, problems.make_handler(PREFIX))


def _configure(app: Flask) -> None:
    static = app.static_url_path or "/static"
    defaults = {
        "API_TITLE": "Mahnwerk host-system API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": PREFIX,
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": f"{static}/vendor/{SWAGGER_UI}/",
        "API_SPEC_OPTIONS": {
            "info": {"description": DESCRIPTION},
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
        },
        "API_SIMULATION_MAX_CASES": 500,
        "API_SIMULATION_MAX_DAYS": 120,
    }
    for key, value in defaults.items():
        app.config.setdefault(key, value)


def _size_pool(app: Flask) -> None:
    """A connection pool as large as the server's threads (DATABASE_POOL_SIZE), no overflow.

    SQLAlchemy's default (5 kept + 10 overflow) makes a 16-thread server open and close
    connections (and run the SQLite pragmas again) under load. Unset: the pool is left alone.
    """
    from designer import db
    from engine import Database

    size = app.config.get("DATABASE_POOL_SIZE")
    current = app.extensions.get(db.KEY)
    if not size or current is None or not hasattr(current.engine.pool, "size"):
        return  # StaticPool (in-memory SQLite) or nothing to resize
    if current.engine.pool.size() == size:
        return
    current.dispose()
    app.extensions[db.KEY] = Database(
        app.config["DATABASE_URL"], pool_size=int(size), max_overflow=0, pool_timeout=60
    )


def _skip_for(blueprints: set[str], hook: Callable[..., Any], after: bool) -> Callable[..., Any]:
    """A designer-wide hook that does nothing for the API's token-checked blueprints."""

    @wraps(hook)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if request.blueprint in blueprints:
            return args[0] if after else None
        return hook(*args, **kwargs)

    return guarded


def _skip_designer_hooks(app: Flask, blueprints: set[str]) -> None:
    """Sign-in, CSRF and the remember-me cookie are the designer's: API views check a token.

    Without this every API request went through Flask-Login (user loader, request loader,
    session cookie) before the blueprint's own token check ran. The docs blueprint keeps them:
    it accepts a signed-in designer session.
    """
    before = app.before_request_funcs.setdefault(None, [])
    before[:] = [_skip_for(blueprints, f, after=False) for f in before]
    after = app.after_request_funcs.setdefault(None, [])
    after[:] = [_skip_for(blueprints, f, after=True) for f in after]


def init_app(app: Flask) -> None:
    """Register the API on the app once: blueprints, problem errors, CSRF exemption, sign-in."""
    if EXTENSION in app.extensions:
        return
    from designer import db
    from designer.api import cases, events, journeys, messages, webhooks

    if db.KEY not in app.extensions:
        db.init_app(app)
    _size_pool(app)
    _configure(app)
    api = ProblemApi(app)
    for attribute_function in (items_ref, decimal_bounds):
        api.ma_plugin.converter.add_attribute_function(attribute_function)
    api.spec.components.schema("ItemResultOut", schema=ItemResultOut)  # BulkOut's items
    api.spec.components.schema("EventItemIn", schema=EventItemIn)  # BulkEventsIn's items
    api.spec.components.schema("EventItemResultOut", schema=EventItemResultOut)
    modules = (cases, events, messages, journeys, webhooks)
    for module in modules:
        api.register_blueprint(module.blp, url_prefix=PREFIX)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        for module in modules:
            csrf.exempt(module.blp)
    names = [m.blp.name for m in modules]
    auth.cooperate_with_login(app, [*names, api._make_doc_blueprint_name()], PREFIX)
    _skip_designer_hooks(app, set(names))
    auth.token_cache(app)
    hot_path.install(app)
    app.extensions[EXTENSION] = api
