"""The designer: a Flask app to draw, check, version and preview dunning journeys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, redirect, url_for
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Response
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect

from engine import load_json, load_settings, secure_cookies
from mahnwerk_files import STATIC, TEMPLATES
from mahnwerk_web import db, headers

csrf = CSRFProtect()
htmx = HTMX()


def policy(response: Response) -> str:
    """Pages run only our own script files; everything else runs nothing (mahnwerk_web.headers)."""
    return headers.PAGES if response.mimetype == "text/html" else headers.DATA


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading request bodies with the engine's `load_json`: a body nested too
    deep or holding text that cannot be stored is a ValueError (`get_json` answers 400, or
    None when silent), never a RecursionError or a database error."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return load_json(s)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Assemble the designer: config, database, login, CSRF, translations and blueprints."""
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
    )
    app.json = SafeJSONProvider(app)
    settings = load_settings()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        # A sign-in lasts MAHNWERK_SESSION_HOURS after the last request (the signed cookie's
        # timestamp is checked against it); JavaScript cannot read the cookie, other sites'
        # forms do not carry it, and over https (MAHNWERK_PUBLIC_URL) it travels encrypted only.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies(settings),
        DATABASE_URL=settings.database_url,
        PORTAL_BASE_URL=settings.portal_base_url,
        CREDITOR_NAME="Mahnwerk Demo GmbH",
        SIMULATION_MAX_CASES=5000,
        SIMULATION_MAX_DAYS=365,
        # Request bodies: a CSV/XLSX import (at most 20 MB) and its form; larger ones answer 413.
        MAX_CONTENT_LENGTH=24 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)

    from designer import (
        analytics,  # the journey's numbers: canvas overlay and dashboard
        auth,
        case_actions,
        case_plans,
        cases,
        debtors,  # the person: all their cases, contact history, holds
        experiments,
        forms,
        i18n,
        imports,
        journeys,
        outbox,
        review,
        settings,
        simulation,
        statements,
        tasks,
        templates_view,
        tokens_view,
        webhooks_view,
    )

    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    forms.init_app(app)  # after CSRF: a forged request is refused as such first
    auth.init_app(app)
    simulation.init_app(app)
    headers.install(app, policy)
    for module in (
        auth,
        i18n,
        journeys,
        review,
        templates_view,
        simulation,
        experiments,
        cases,
        outbox,
        settings,
        tokens_view,
        webhooks_view,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(imports.bp)  # cases from CSV/XLSX
    app.register_blueprint(statements.bp)  # bank statements: CAMT.053, MT940
    app.register_blueprint(analytics.bp)
    app.register_blueprint(case_actions.bp)  # staff record payments, promises, holds on a case
    app.register_blueprint(debtors.bp)
    case_plans.install(app)  # the case page's instalment plan section
    app.register_blueprint(tasks.bp)  # the task inbox

    @app.get("/")
    def index() -> Any:
        return redirect(url_for("journeys.index"))

    @app.errorhandler(403)
    def forbidden(_error: Any) -> Any:
        """A refused page in the designer's own frame, saying why and where to go on."""
        from flask import jsonify, render_template, request

        from designer.i18n import _

        reason = _("Your role cannot open this page or take this step.")
        if request.is_json or request.accept_mimetypes.best == "application/json":
            return jsonify(ok=False, message=reason, problems=[{"message": reason}]), 403
        return render_template("error.html", code=403, reason=reason), 403

    @app.get("/favicon.ico")
    def favicon() -> Any:
        """Browsers ask for /favicon.ico whatever the page links; answer with the SVG icon."""
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    return app
