"""The host-system REST API at /api/v1: flask-smorest on the engine's marshmallow schemas.

`init_app(app)` registers it; errors under /api are application/problem+json, the OpenAPI
document is /api/v1/openapi.json and the interactive docs (vendored Swagger UI) /api/v1/docs.
"""

from __future__ import annotations

import http
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from designer.api import auth, problems
from designer.api.schemas import decimal_bounds, items_ref

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


def init_app(app: Flask) -> None:
    """Register the API on the app once: blueprints, problem errors, CSRF exemption, sign-in."""
    if EXTENSION in app.extensions:
        return
    from designer import db
    from designer.api import cases, events, journeys, messages, webhooks

    if db.KEY not in app.extensions:
        db.init_app(app)
    _configure(app)
    api = ProblemApi(app)
    for attribute_function in (items_ref, decimal_bounds):
        api.ma_plugin.converter.add_attribute_function(attribute_function)
    modules = (cases, events, messages, journeys, webhooks)
    for module in modules:
        api.register_blueprint(module.blp, url_prefix=PREFIX)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        for module in modules:
            csrf.exempt(module.blp)
    names = [m.blp.name for m in modules]
    auth.cooperate_with_login(app, [*names, api._make_doc_blueprint_name()], PREFIX)
    app.extensions[EXTENSION] = api
