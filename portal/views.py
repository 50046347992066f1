"""The portal's pages: what is owed, and the debtor's actions, each one case event.

Every URL starts with the signed token of a message's link (`/p/<token>`); a token that is
tampered with, expired, revoked or of a closed case opens nothing (a page saying which, 4xx,
no data). Each form carries a one-time value (`once`); the event id is made from the case,
the action and that value, so a double click or a resent form stores the event once.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine import (
    CaseOwed,
    PortalAccess,
    PortalCase,
    PortalLinkError,
    bank_transfer,
    case_owed,
    factor_settings,
    girocode_image,
    load_delivery_config,
    open_portal,
    portal_case,
    portal_money,
    record_event,
)
from mahnwerk_web import db
from mahnwerk_web.payments import providers
from portal import LANGUAGES, PREFIX, current_lang, now

bp = Blueprint("portal", __name__, url_prefix=PREFIX)

ONCE = re.compile(r"^[A-Za-z0-9_-]{16,43}$")
ACTIONS = ("promise", "dispute", "callback", "contact")
DISPUTE_REASONS = ("not_mine", "already_paid", "amount_wrong", "goods_or_service", "other")
MAX_NOTE = 1000
# Link problems: the HTTP status and what the debtor is told.
LINK_STATUS = {"invalid": 404, "expired": 410, "revoked": 410, "closed": 410}


def _reason_words(reason: str) -> str:
    return {
        "not_mine": _("This is not my debt"),
        "already_paid": _("I have already paid"),
        "amount_wrong": _("The amount is wrong"),
        "goods_or_service": _("A problem with the goods or service"),
        "other": _("Another reason"),
    }[reason]


def _link_words(reason: str) -> tuple[str, str]:
    return {
        "invalid": (
            _("This link does not work"),
            _("The link is incomplete or was changed. Please open it again from your message."),
        ),
        "expired": (
            _("This link has expired"),
            _(
                "For your security, links work for a limited time. Please use the link in "
                "your most recent message, or contact us."
            ),
        ),
        "revoked": (
            _("This link is no longer valid"),
            _("A newer link replaces it. Please use the link in your most recent message."),
        ),
        "closed": (
            _("This case is closed"),
            _("There is nothing more to do here. Thank you."),
        ),
    }[reason]


def open_case(
    token: str, closed_ok: bool = False, factor: bool = True
) -> tuple[PortalAccess, PortalCase]:
    """The case the token opens (PortalLinkError otherwise), its language set for the page.

    With `factor` (every page that shows or changes the case), a journey's second factor must
    have been answered for this case first (portal.factor.FactorRequired otherwise)."""
    with db.reading() as s:
        config = current_app.config
        days, secret = config["PORTAL_LINK_DAYS"], config["SECRET_KEY"]
        access = open_portal(s, token, now(), days, secret, closed_ok=closed_ok)
        case = portal_case(s, access, load_delivery_config().profiles)
        settings = factor_settings(s, access.case_id) if factor else None
    g.case_id = access.case_id
    g.case_lang = case.locale.split("_")[0].split("-")[0].lower()
    if settings is not None:
        from portal.factor import require

        require(token, access, settings)
    return access, case


def _bank_transfer(case: PortalCase, total: Decimal) -> Any:
    """The creditor's account, the case's RF reference and a GiroCode; None without an IBAN."""
    if total <= 0:
        return None
    try:
        company = load_delivery_config().company
    except Exception:  # a broken delivery file shows in the designer; the page still answers
        return None
    # The QR image is its own request (`girocode`): its encoding is most of a page's time.
    return bank_transfer(g.case_id, total, case.currency, company, image=False)


def _today(case: PortalCase) -> date:
    return now().astimezone(ZoneInfo(case.timezone)).date()


def _limits(case: PortalCase) -> dict[str, date]:
    today = _today(case)
    return {
        "promise_min": today,
        "promise_max": today + timedelta(days=int(current_app.config["PORTAL_PROMISE_DAYS"])),
        "callback_min": today,
        "callback_max": today + timedelta(days=int(current_app.config["PORTAL_CALLBACK_DAYS"])),
    }


def _owed_rows(owed: CaseOwed, locale: str) -> list[tuple[str, str]]:
    """The parts of what is owed, each with its amount; none when only the principal is owed."""
    o = owed.owed
    if not o.fees and not o.interest:
        return []
    parts = [(_("Principal"), o.principal), (_("Fees"), o.fees), (_("Interest"), o.interest)]
    return [(words, format_currency(value, owed.currency, locale=locale)) for words, value in parts]


def _page(
    token: str,
    case: PortalCase,
    errors: dict[str, str] | None = None,
    status: int = 200,
    done: str | None = None,
) -> tuple[str, int]:
    from portal.payments import items_section, pay_section  # they build on this module
    from portal.plans import plan_section

    lang = current_lang()
    locale = "de_DE" if lang == "de" else "en_GB"
    access_case_id = g.case_id
    # One read for the money: principal, fees and interest computed once for the page, the
    # payment options from that total, the person's other open items and credits, the plan.
    with db.reading() as session:
        money = portal_money(session, access_case_id, providers(), now(), lang)
        plans = plan_section(access_case_id, session)
    owed = money.owed
    return (
        render_template(
            "portal/case.html",
            token=token,
            case=case,
            creditor=current_app.config["CREDITOR_NAME"],
            amount=format_currency(owed.owed.total, case.currency, locale=locale),
            owed=_owed_rows(owed, locale),
            rate_words=owed.rate_words,
            due=format_date(case.due_date, "long", locale=locale),
            promised=(
                format_date(case.promise_date, "long", locale=locale) if case.promise_date else None
            ),
            limits=_limits(case),
            reasons=[(r, _reason_words(r)) for r in DISPUTE_REASONS],
            channel_words={
                "email": _("Email"),
                "sms": _("SMS"),
                "letter": _("Letter"),
                "whatsapp": _("WhatsApp"),
            },
            once=secrets.token_urlsafe(16),
            transfer=_bank_transfer(case, owed.owed.total),
            errors=errors or {},
            form=request.form if request.method == "POST" else {},
            done=done,
            pay=pay_section(money.options),
            items=items_section(money, errors or {}),
            plans=plans,
        ),
        status,
    )


@bp.get("/<token>")
def case_page(token: str) -> Any:
    """What is owed and the actions."""
    _access, case = open_case(token)
    done = request.args.get("done")
    return _page(token, case, done=done if done in ACTIONS else None)


@bp.get("/<token>/girocode.svg")
def girocode(token: str) -> Any:
    """The case's GiroCode image; the page links it with the amount, so a new amount is new."""
    _access, case = open_case(token)
    image = None
    with db.reading() as session:
        total = case_owed(session, g.case_id, now()).owed.total
    if total > 0:
        company = load_delivery_config().company
        image = girocode_image(g.case_id, total, case.currency, company)
    if image is None:
        abort(404)
    response = Response(image, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.post("/<token>/lang/<code>")
def switch_language(token: str, code: str) -> Response:
    """Remember the chosen language on this device and show the page again (the second
    factor's question too: it shows nothing of the case)."""
    open_case(token, factor=False)
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(url_for("portal.case_page", token=token))


def _date_field(name: str, low: date, high: date, errors: dict[str, str]) -> date | None:
    raw = (request.form.get(name) or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Please enter a date (YYYY-MM-DD).")
        return None
    if not low <= day <= high:
        errors[name] = _(
            "Please choose a date between %(low)s and %(high)s.",
            low=low.isoformat(),
            high=high.isoformat(),
        )
        return None
    return day


def _hour_field(name: str, errors: dict[str, str]) -> int | None:
    raw = (request.form.get(name) or "").strip()
    if not raw.isdigit() or not 0 <= int(raw) <= 24:
        errors[name] = _("Please choose an hour.")
        return None
    return int(raw)


def _events(action: str, case: PortalCase) -> tuple[list[tuple[str, str, dict[str, Any]]], dict]:
    """The events a posted action form stands for, as (suffix, type, payload), or errors."""
    errors: dict[str, str] = {}
    limits = _limits(case)
    events: list[tuple[str, str, dict[str, Any]]] = []
    if action == "promise":
        day = _date_field("promise_date", limits["promise_min"], limits["promise_max"], errors)
        if day is not None:
            events.append(("", "promise_to_pay", {"date": day.isoformat()}))
    elif action == "dispute":
        reason = request.form.get("reason", "")
        note = (request.form.get("note") or "").strip()
        if reason not in DISPUTE_REASONS:
            errors["reason"] = _("Please choose a reason.")
        if len(note) > MAX_NOTE:
            errors["note"] = _("Please write at most %(n)s characters.", n=MAX_NOTE)
        if not errors:
            events.append(("", "dispute_opened", {"reason": reason, "note": note, "by": "portal"}))
    elif action == "callback":
        day = _date_field("callback_date", limits["callback_min"], limits["callback_max"], errors)
        start, end = _hour_field("start_hour", errors), _hour_field("end_hour", errors)
        if start is not None and end is not None and end <= start:
            errors["end_hour"] = _("The window must end after it starts.")
        phone = (request.form.get("phone") or "").strip()
        if len(phone) > 32:
            errors["phone"] = _("Please write at most %(n)s characters.", n=32)
        if not errors and day is not None:
            payload = {"date": day.isoformat(), "start_hour": start, "end_hour": end}
            events.append(("", "callback_requested", {**payload, "phone": phone or None}))
    elif action == "contact":
        chosen = request.form.getlist("opt_out")
        unknown = [c for c in chosen if c not in case.channels]
        if unknown or not chosen:
            errors["opt_out"] = _("Please choose at least one of the channels shown.")
        for channel in sorted(set(chosen) - set(case.opted_out)) if not errors else ():
            events.append((f"-{channel}", "opted_out", {"channel": channel}))
    return events, errors


@bp.post("/<token>/<action>")
def act(token: str, action: str) -> Any:
    """Record one action as case events, once per form (double clicks store it once)."""
    if action not in ACTIONS:
        abort(404)
    access, case = open_case(token)
    once = request.form.get("once", "")
    if not ONCE.match(once):
        return _page(token, case, {"form": _("The form is incomplete. Please try again.")}, 400)
    events, errors = _events(action, case)
    if errors:
        errors.setdefault("action", action)
        return _page(token, case, errors, 422)
    moment: datetime = now()
    with db.transaction() as s:
        for suffix, kind, payload in events:
            event_id = f"portal:{access.case_id}:{action}{suffix}:{once}"
            record_event(s, access.external_id, event_id, kind, payload, moment)
    return redirect(url_for("portal.case_page", token=token, done=action), code=303)


def install_errors(app: Flask) -> None:
    """Clear pages for a link that opens nothing, and for pages that do not exist."""

    @app.errorhandler(PortalLinkError)
    def link_error(exc: PortalLinkError) -> tuple[str, int]:
        title, text = _link_words(exc.reason)
        return render_template("portal/link.html", title=title, text=text), LINK_STATUS[exc.reason]

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if isinstance(exc, CSRFError):
            title = _("The form has expired")
            text = _("Please open the page again from your message and send the form again.")
            return render_template("portal/link.html", title=title, text=text), 400
        if exc.code == 404:
            title, text = _link_words("invalid")
            return render_template("portal/link.html", title=title, text=text), 404
        return exc
