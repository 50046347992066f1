"""The portal's second factor: asked before anything of the case shows, when the journey says so.

`require` is called by every page that shows or changes a case (`views.open_case`): without a
valid pass for that case it raises `FactorRequired`, whose page asks the question and nothing
else (no amount, no name). The answer is checked by the engine (`engine.check_factor`: counted
in the database per case and per client address, locked out after the journey's number of
failures). A right answer sets a pass cookie: signed for that case and link generation, valid
PORTAL_FACTOR_MINUTES, HttpOnly, SameSite=Strict, Secure over https, and sent by the browser
only under that link's own path, so another case's link still asks.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import (
    ClientLimit,
    FactorSettings,
    PortalAccess,
    check_factor,
    factor_pass,
    factor_settings,
    has_factor_pass,
)
from mahnwerk_web import db
from portal import PREFIX, now

bp = Blueprint("portal_factor", __name__, url_prefix=PREFIX)

COOKIE = "mahnwerk_factor"


class FactorRequired(Exception):
    """The case's page needs the second factor first."""

    def __init__(self, token: str, kind: str, status: int = 401) -> None:
        super().__init__(kind)
        self.token, self.kind, self.status = token, kind, status


def _minutes() -> int:
    return int(current_app.config.get("PORTAL_FACTOR_MINUTES", 30))


def _path(token: str) -> str:
    return url_for("portal.case_page", token=token)


def require(token: str, access: PortalAccess, settings: FactorSettings) -> None:
    """Raise FactorRequired unless the request carries this case's pass (or none is needed)."""
    if not settings.required:
        return
    secret = current_app.config["SECRET_KEY"]
    value = request.cookies.get(COOKIE)
    if not has_factor_pass(value, access.case_id, access.generation, now(), secret, _minutes()):
        raise FactorRequired(token, settings.kind)


def settings_of(case_id: int) -> FactorSettings:
    """The second factor of a case's journey."""
    with db.reading() as session:
        return factor_settings(session, case_id)


def _question(kind: str) -> tuple[str, str]:
    return {
        "postcode": (_("Your postcode"), _("The postcode of the address we write to.")),
        "date_of_birth": (
            _("Your date of birth"),
            _("For example 31.12.1980 or 1980-12-31."),
        ),
        "invoice_number": (
            _("Your invoice number"),
            _("It is on the invoice and on our letters."),
        ),
    }.get(kind, (_("Your answer"), ""))


def page(token: str, kind: str, error: str | None = None, status: int = 401) -> tuple[str, int]:
    """The question, and nothing of the case."""
    label, hint = _question(kind)
    html = render_template(
        "portal/factor.html",
        token=token,
        label=label,
        hint=hint,
        error=error,
        creditor=current_app.config["CREDITOR_NAME"],
    )
    return html, status


def _locked(wait: timedelta | None) -> Any:
    minutes = max(1, math.ceil((wait or timedelta(minutes=1)).total_seconds() / 60))
    title = _("This link is locked for now")
    text = _(
        "There were too many wrong answers. For your security the link opens again in "
        "%(minutes)s minutes. If you need help sooner, please call %(creditor)s.",
        minutes=minutes,
        creditor=current_app.config["CREDITOR_NAME"],
    )
    html = render_template("portal/link.html", title=title, text=text)
    return html, 429, {"Retry-After": str(math.ceil((wait or timedelta(0)).total_seconds()))}


@bp.post("/<token>/factor")
def answer(token: str) -> Any:
    """Check the answer; a right one sets the pass cookie and opens the case page."""
    from portal.views import open_case  # it calls `require` of this module

    access, _case = open_case(token, factor=False)
    settings = settings_of(access.case_id)
    if not settings.required:
        return redirect(_path(token), code=303)
    given = (request.form.get("answer") or "")[:200]
    limit = ClientLimit(
        failures=int(current_app.config.get("PORTAL_FACTOR_CLIENT_FAILURES", 30)),
        window=timedelta(minutes=int(current_app.config.get("PORTAL_FACTOR_CLIENT_MINUTES", 15))),
    )
    with db.transaction() as session:
        result = check_factor(
            session, access.case_id, given, request.remote_addr or "", now(), limit
        )
    if result.result == "locked":
        return _locked(result.wait)
    if result.result == "unanswerable":
        title = _("Please contact us")
        text = _(
            "We cannot confirm it is you online. Please call %(creditor)s.",
            creditor=current_app.config["CREDITOR_NAME"],
        )
        return render_template("portal/link.html", title=title, text=text), 403
    if result.result != "ok":
        error = _("This does not match what we have. Tries left: %(n)s.", n=result.left)
        return page(token, settings.kind, error, 422)
    response = redirect(_path(token), code=303)
    secret = current_app.config["SECRET_KEY"]
    response.set_cookie(
        COOKIE,
        factor_pass(access.case_id, access.generation, now(), secret),
        max_age=_minutes() * 60,
        path=_path(token),
        httponly=True,
        samesite="Strict",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure,
    )
    return response


def install_errors(app: Flask) -> None:
    """A page behind the factor answers with the question."""

    @app.errorhandler(FactorRequired)
    def ask(exc: FactorRequired) -> tuple[str, int]:
        g.factor_asked = True
        return page(exc.token, exc.kind, status=exc.status)
