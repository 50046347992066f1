"""The debtor portal at /p/: a Flask app of its own, opened by the signed link in each message.

`create_app()` builds it. It owns the whole `/p/` URL space (`mahnwerk.wsgi` mounts it there, as
it mounts the API at `/api/`), has its own session cookie (name `mahnwerk_portal`, path `/p`,
holding only the CSRF token and a chosen language) and never reads the designer's sign-in.
Everything it shows or records goes through the engine's public API: the link opens a case
(`engine.open_portal`), and every action is a case event through the one event intake
(`engine.record_event`), idempotent by an event id made from the form's one-time value.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, g, request, session
from flask.wrappers import Response
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from engine import LOCALE_DIR, load_delivery_config, load_settings, secure_cookies, utcnow
from mahnwerk_files import STATIC, TEMPLATES
from mahnwerk_web import db, headers

PREFIX = "/p"
LANGUAGES = {"en": "English", "de": "Deutsch"}
COOKIE = "mahnwerk_portal"

csrf = CSRFProtect()


# Where "Pay now" may send a form's redirect: CSP form-action also governs the redirects after a
# form is sent, so the hosted checkouts of the payment providers are named (nothing else).
# PORTAL_CHECKOUT_ORIGINS adds more (a provider of a plugin, a local fake in tests).
CHECKOUT_ORIGINS = (
    "https://checkout.stripe.com",
    "https://www.mollie.com",
    "https://pay.gocardless.com",
    "https://pay-sandbox.gocardless.com",
)


def policy(response: Response) -> str:
    """Pages run only our own script files (none, today); everything else runs nothing."""
    if response.mimetype != "text/html":
        return headers.DATA
    from flask import current_app

    extra = current_app.config.get("PORTAL_CHECKOUT_ORIGINS") or ()
    origins = " ".join((*CHECKOUT_ORIGINS, *extra))
    return headers.PAGES.replace("form-action 'self'", f"form-action 'self' {origins}")


def current_lang() -> str:
    """The page's language: chosen on this device, else the case's locale, else the browser's."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    case_lang = getattr(g, "case_lang", None)
    if case_lang in LANGUAGES:
        return str(case_lang)
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def _creditor() -> str:
    try:
        return load_delivery_config().company.name
    except Exception:  # a broken delivery file shows in the designer; the portal still answers
        return "Mahnwerk"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Assemble the portal: config, database, CSRF, translations, security headers, views."""
    app = Flask(
        __name__,
        template_folder=str(TEMPLATES),
        static_folder=str(STATIC),
        static_url_path=f"{PREFIX}/static",
    )
    settings = load_settings()
    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        # The portal's own cookie: another name and path than the designer's session, so the
        # designer's sign-in is never sent here and never read.
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH=PREFIX,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies(settings),
        DATABASE_URL=settings.database_url,
        PORTAL_LINK_DAYS=settings.portal_link_days,
        PORTAL_PROMISE_DAYS=settings.portal_promise_days,
        PORTAL_CALLBACK_DAYS=14,
        # The second factor (portal/factor.py): how long a right answer opens its case, and how
        # many wrong answers one client address may give over all cases within a window.
        PORTAL_FACTOR_MINUTES=30,
        PORTAL_FACTOR_CLIENT_FAILURES=30,
        PORTAL_FACTOR_CLIENT_MINUTES=15,
        CREDITOR_NAME=None,
        # The moment a request acts at (tests pass a virtual clock's `now`).
        PORTAL_CLOCK=utcnow,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the portal's session cookie
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    if not app.config["CREDITOR_NAME"]:
        app.config["CREDITOR_NAME"] = _creditor()

    from portal import factor, payments, plan_change, plans, views

    db.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(LOCALE_DIR))
    Babel(app, locale_selector=current_lang)
    app.context_processor(lambda: {"lang": current_lang(), "LANGUAGES": LANGUAGES})
    headers.install(app, policy)
    app.register_blueprint(views.bp)
    app.register_blueprint(payments.bp)
    app.register_blueprint(factor.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(plan_change.bp)
    views.install_errors(app)
    factor.install_errors(app)
    return app


def now() -> datetime:
    """The portal's clock (PORTAL_CLOCK)."""
    from flask import current_app

    clock: Callable[[], datetime] = current_app.config["PORTAL_CLOCK"]
    return clock()
