"""The designer: a Flask app to draw, check, version and preview dunning journeys."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, url_for
from flask.json.provider import DefaultJSONProvider
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect

from engine import load_json, load_settings
from mahnwerk_files import STATIC, TEMPLATES

csrf = CSRFProtect()
htmx = HTMX()


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
        auth,
        cases,
        db,
        delivery_receipts,
        i18n,
        imports,
        journeys,
        outbox,
        settings,
        simulation,
        templates_view,
        webhooks_view,
    )

    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    simulation.init_app(app)
    for module in (
        auth,
        i18n,
        journeys,
        templates_view,
        simulation,
        cases,
        outbox,
        settings,
        webhooks_view,
    ):
        app.register_blueprint(module.bp)
    app.register_blueprint(delivery_receipts.bp)
    app.register_blueprint(imports.bp)  # cases from CSV/XLSX
    csrf.exempt(delivery_receipts.bp)  # providers sign their receipts; they hold no CSRF token

    @app.get("/")
    def index() -> Any:
        return redirect(url_for("journeys.index"))

    return app
