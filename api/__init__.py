"""The host-system REST API at /api/v1: its own Flask app, flask-smorest on the engine's schemas.

`create_app()` builds it: token auth on every view, errors as application/problem+json, the
OpenAPI document at /api/v1/openapi.json and the interactive docs (vendored Swagger UI) at
/api/v1/docs. It shares no session, sign-in or CSRF machinery with the designer; the program
(`mahnwerk.wsgi`) mounts it beside the designer and the portal.
"""

from __future__ import annotations

import http
from datetime import timedelta
from typing import Any

from flask import Flask, render_template, url_for
from flask.wrappers import Response
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from api import auth, hot_path, problems
from api.schemas import (
    EventItemIn,
    EventItemResultOut,
    ItemResultOut,
    decimal_bounds,
    items_ref,
)
from engine import Database, load_settings
from mahnwerk_files import STATIC, TEMPLATES
from mahnwerk_web import db, headers

PREFIX = "/api/v1"
SWAGGER_UI = "swagger-ui-dist-5.35.0"
DESCRIPTION = (
    "Drive Mahnwerk from a billing system, shop or ERP: hand over cases, report payments and "
    "disputes, read where a case stands. Authenticate with `Authorization: Bearer <token>` "
    "(`mahnwerk token add`); GET needs the read scope, everything else write (publishing, pausing "
    "and retiring journeys: publish). Errors are "
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


def _configure(app: Flask, test_config: dict[str, Any] | None) -> None:
    settings = load_settings()
    static = app.static_url_path or "/static"
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,  # reads the designer's session on the docs page only
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),  # as the designer
        DATABASE_URL=settings.database_url,
        API_TITLE="Mahnwerk host-system API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{static}/vendor/{SWAGGER_UI}/",
        API_SPEC_OPTIONS={
            "info": {"description": DESCRIPTION},
            "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
            "security": [{"bearer": []}],
        },
        API_SIMULATION_MAX_CASES=500,
        API_SIMULATION_MAX_DAYS=120,
        # Request bodies: a bulk of 10,000 cases is about 5 MB; larger ones answer 413 problem+json.
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)


def _open_database(app: Flask) -> None:
    """The app's database; a pool as large as the server's threads when DATABASE_POOL_SIZE is set.

    SQLAlchemy's default (5 kept + 10 overflow) makes a 16-thread server open and close
    connections (and run the SQLite pragmas again) under load.
    """
    size = app.config.get("DATABASE_POOL_SIZE")
    url = app.config["DATABASE_URL"]
    if size and not url.endswith(":memory:"):
        db.init_app(app, Database(url, pool_size=int(size), max_overflow=0, pool_timeout=60))
    else:
        db.init_app(app)


def policy(response: Response) -> str:
    """The docs page runs our own script files; JSON and problems run nothing."""
    return headers.PAGES if response.mimetype == "text/html" else headers.DATA


def _docs_page_without_inline_script(app: Flask, api: Api, docs: str) -> None:
    """Serve Swagger UI from templates/api/swagger_ui.html: flask-smorest's page starts it in
    an inline script, which the Content-Security-Policy (script-src 'self') does not run."""

    def swagger_ui() -> str:
        return render_template(
            "api/swagger_ui.html",
            title=api.spec.title,
            spec_url=url_for(f"{docs}.openapi_json"),
            swagger_ui_url=app.config["OPENAPI_SWAGGER_UI_URL"],
        )

    app.view_functions[f"{docs}.openapi_swagger_ui"] = swagger_ui


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Assemble the API: config, database, blueprints, problem errors, token checks, hot path."""
    app = Flask(__name__, static_folder=str(STATIC), template_folder=str(TEMPLATES))
    _configure(app, test_config)
    _open_database(app)
    from api import (
        analytics,  # the journey's numbers (engine/analytics)
        cases,
        debtors,
        documents,
        events,
        journeys,
        lifecycle,
        messages,
        payment_hooks,
        receipts,
        tasks,
        webhooks,
    )

    api = ProblemApi(app)
    for attribute_function in (items_ref, decimal_bounds):
        api.ma_plugin.converter.add_attribute_function(attribute_function)
    api.spec.components.schema("ItemResultOut", schema=ItemResultOut)  # BulkOut's items
    api.spec.components.schema("EventItemIn", schema=EventItemIn)  # BulkEventsIn's items
    api.spec.components.schema("EventItemResultOut", schema=EventItemResultOut)
    for module in (
        cases,
        documents,
        debtors,
        events,
        messages,
        journeys,
        lifecycle,
        webhooks,
        tasks,
    ):
        api.register_blueprint(module.blp, url_prefix=PREFIX)
    api.register_blueprint(analytics.blp, url_prefix=PREFIX)
    app.register_blueprint(receipts.bp)  # providers' delivery receipts, signed: /hooks/sms/...
    app.register_blueprint(payment_hooks.bp)  # payment providers' events: /hooks/payments/...
    docs = api._make_doc_blueprint_name()
    auth.protect_docs(app, docs)
    _docs_page_without_inline_script(app, api, docs)
    headers.install(app, policy)
    auth.token_cache(app)
    hot_path.install(app)
    return app
