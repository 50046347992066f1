"""Staff act on a case for a debtor on the phone: payment, promise, dispute, hold, release, close.

Each form records the same case event the portal or the API would (engine.record_staff_action,
through the one event intake), with the signed-in user as the actor in the audit trail. Every
form carries a one-time key, so a double click records once. Who may do what is decided by role
(designer/auth.py): collectors, managers and admins record payments, promises, disputes and
holds; only managers and admins release a hold or close a case; reviewers and viewers see no
forms. A wrong field answers 422 with the case page, the field named and marked; never a 500.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from flask import Blueprint, abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user

from designer.auth import CASE_ACTION_ROLES, CASE_DECISION_ROLES
from designer.i18n import _
from engine import (
    STAFF_KEY,
    StaffActionError,
    StaffActor,
    hold_kinds,
    load_settings,
    queries,
    record_staff_action,
    release_event,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("case_actions", __name__, url_prefix="/cases")

ACTIONS = ("payment", "promise", "dispute", "hold", "release", "close")
ROLES = {
    "payment": CASE_ACTION_ROLES,
    "promise": CASE_ACTION_ROLES,
    "dispute": CASE_ACTION_ROLES,
    "hold": CASE_ACTION_ROLES,
    "release": CASE_DECISION_ROLES,
    "close": CASE_DECISION_ROLES,
}
METHODS = ("bank_transfer", "card", "direct_debit", "cash", "cheque", "other")
DISPUTE_REASONS = ("not_mine", "already_paid", "amount_wrong", "goods_or_service", "other")
CLOSE_REASONS = ("paid_elsewhere", "settled", "written_off", "sent_in_error", "other")
# A payment booked by hand: at most this much, and on a day at most this far back.
MAX_PAYMENT = Decimal("1000000000")
PAYMENT_DAYS_BACK = 365
HOLD_DAYS_AHEAD = 366
MAX_NOTE = 1000
MAX_REFERENCE = 100


@dataclass
class Staff:
    """What the case page shows of the staff forms (`g.staff_*` carries a refused form back)."""

    allowed: tuple[str, ...]
    key: str
    today: date
    limits: dict[str, date]
    holds: list[tuple[str, str]]
    releasable: str | None
    errors: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    form: dict[str, str] = field(default_factory=dict)


def method_words() -> dict[str, str]:
    """Each payment method in the reader's language."""
    return {
        "bank_transfer": _("Bank transfer"),
        "card": _("Card"),
        "direct_debit": _("Direct debit"),
        "cash": _("Cash"),
        "cheque": _("Cheque"),
        "other": _("Other"),
    }


def dispute_words() -> dict[str, str]:
    """Each dispute reason in the reader's language (the portal's reasons)."""
    return {
        "not_mine": _("This is not my debt"),
        "already_paid": _("I have already paid"),
        "amount_wrong": _("The amount is wrong"),
        "goods_or_service": _("A problem with the goods or service"),
        "other": _("Another reason"),
    }


def close_words() -> dict[str, str]:
    """Each reason to close a case in the reader's language."""
    return {
        "paid_elsewhere": _("Paid outside Mahnwerk"),
        "settled": _("Settled"),
        "written_off": _("Written off"),
        "sent_in_error": _("Opened in error"),
        "other": _("Another reason"),
    }


def hold_words() -> dict[str, str]:
    """Each hold kind the policy rules know, in the reader's language."""
    return {
        "dispute": _("Dispute"),
        "cease_contact": _("Asked to stop contact"),
        "breathing_space": _("Breathing space"),
        "attorney": _("Represented by an attorney"),
        "insolvency": _("Insolvency (stops the case)"),
        "deceased": _("Debtor deceased (stops the case)"),
    }


def _labels() -> dict[str, str]:
    return {
        "amount": _("Amount"),
        "paid_on": _("Paid on"),
        "method": _("Method"),
        "reference": _("Reference"),
        "promise_date": _("Promised date"),
        "reason": _("Reason"),
        "note": _("Note"),
        "kind": _("Kind of hold"),
        "until": _("Until"),
        "case": _("Case"),
        "key": _("Form"),
    }


def _now() -> datetime:
    """The moment an action is recorded at: CASE_ACTIONS_CLOCK (tests pass a virtual clock's)."""
    clock = current_app.config.get("CASE_ACTIONS_CLOCK") or utcnow
    return clock()  # type: ignore[no-any-return]


def _promise_days() -> int:
    days = current_app.config.get("PORTAL_PROMISE_DAYS")
    return int(days if days is not None else load_settings().portal_promise_days)


def _today(case: Any, now: datetime) -> date:
    try:
        zone = ZoneInfo(case.timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def _limits(today: date) -> dict[str, date]:
    return {
        "paid_min": today - timedelta(days=PAYMENT_DAYS_BACK),
        "paid_max": today,
        "promise_min": today,
        "promise_max": today + timedelta(days=_promise_days()),
        "until_min": today + timedelta(days=1),
        "until_max": today + timedelta(days=HOLD_DAYS_AHEAD),
    }


def context(case: Any) -> Staff | None:
    """The staff forms for a case page; None for roles that may do nothing on cases."""
    role = getattr(current_user, "role", None)
    allowed = tuple(a for a in ACTIONS if role in ROLES[a])
    if not allowed:
        return None
    now = _now()
    today = _today(case, now)
    words = hold_words()
    holds = [(kind, words.get(kind, kind)) for kind in hold_kinds() if kind != "dispute"]
    releasable = case.hold_reason if case.status == "held" else None
    return Staff(
        allowed=allowed,
        key=secrets.token_urlsafe(16),
        today=today,
        limits=_limits(today),
        holds=holds,
        releasable=releasable if release_event(releasable) else None,
        errors=getattr(g, "staff_errors", {}),
        action=getattr(g, "staff_action", None),
        form=getattr(g, "staff_form", {}),
    )


def _text(name: str, limit: int, errors: dict[str, str]) -> str:
    value = (request.form.get(name) or "").strip()
    if len(value) > limit:
        errors[name] = _("Write at most %(n)s characters.", n=limit)
    return value


def _choice(name: str, choices: tuple[str, ...] | list[str], errors: dict[str, str]) -> str:
    value = request.form.get(name) or ""
    if value not in choices:
        errors[name] = _("Choose one of the listed options.")
    return value


def _day(name: str, low: date, high: date, errors: dict[str, str], required: bool = True) -> Any:
    raw = (request.form.get(name) or "").strip()
    if not raw and not required:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    if day < low:
        errors[name] = _("Choose a date from %(low)s.", low=low.isoformat())
    elif day > high:
        errors[name] = _("Choose a date until %(high)s.", high=high.isoformat())
    return day


def _amount(currency: str, errors: dict[str, str]) -> Decimal | None:
    raw = (request.form.get("amount") or "").strip().replace(" ", "").replace(",", ".")
    try:
        value = Decimal(raw) if len(raw) <= 32 else Decimal("NaN")
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        errors["amount"] = _("Enter an amount such as 120.50.")
        return None
    places = get_currency_precision(currency)
    if value <= 0:
        errors["amount"] = _("Enter an amount greater than 0.")
    elif value >= MAX_PAYMENT:
        errors["amount"] = _("Enter an amount below %(max)s.", max=MAX_PAYMENT)
    elif -int(value.as_tuple().exponent) > places:  # type: ignore[operator]
        errors["amount"] = _(
            "Enter at most %(n)s decimal places for %(currency)s.", n=places, currency=currency
        )
    return value.quantize(Decimal(1).scaleb(-places)) if "amount" not in errors else None


def _event(
    action: str, case: Any, staff: Staff, errors: dict[str, str]
) -> tuple[dict[str, Any], datetime | None]:
    """The payload (and when it happened) of a posted form; errors named by field."""
    limits = staff.limits
    if action == "payment":
        amount = _amount(case.currency, errors)
        paid_on = _day("paid_on", limits["paid_min"], limits["paid_max"], errors)
        method = _choice("method", METHODS, errors)
        reference = _text("reference", MAX_REFERENCE, errors)
        payload: dict[str, Any] = {"amount": str(amount), "currency": case.currency}
        payload["method"] = method
        if reference:
            payload["reference"] = reference
        occurred = None
        if isinstance(paid_on, date):
            now = _now()
            occurred = min(now, datetime.combine(paid_on, time(12), tzinfo=UTC))
        return payload, occurred
    if action == "promise":
        day = _day("promise_date", limits["promise_min"], limits["promise_max"], errors)
        return {"date": day.isoformat() if day else ""}, None
    if action == "dispute":
        reason = _choice("reason", DISPUTE_REASONS, errors)
        note = _text("note", MAX_NOTE, errors)
        return {"reason": reason, "note": note, "by": "staff"}, None
    if action == "hold":
        kind = _choice("kind", [k for k, _w in staff.holds], errors)
        until = _day("until", limits["until_min"], limits["until_max"], errors, required=False)
        note = _text("note", MAX_NOTE, errors)
        payload = {"kind": kind, "note": note, "by": "staff"}
        if until is not None:
            payload["until"] = until.isoformat()
        return payload, None
    if action == "release":
        if staff.releasable is None:
            errors["case"] = _("The case is not on a hold that can be released.")
        return {"note": _text("note", MAX_NOTE, errors), "by": "staff"}, None
    reason = _choice("reason", CLOSE_REASONS, errors)
    return {"reason": reason, "note": _text("note", MAX_NOTE, errors), "by": "staff"}, None


def _refusal(reason: str) -> str:
    return {
        "closed": _("This case is closed: nothing more can be recorded on it."),
        "not_held": _("The case is not on a hold that can be released."),
        "unknown_hold": _("Choose one of the listed options."),
        "bad_key": _("The form is incomplete. Please load the page again."),
        "unknown_action": _("This action does not exist."),
    }.get(reason, reason)


def _again(case_id: int, action: str, errors: dict[str, str]) -> tuple[str, int]:
    """The case page again, the form's errors named by field label, 422."""
    from designer.cases import show  # the page this form lives on

    labels = _labels()
    g.staff_errors = {name: f"{labels.get(name, name)}: {text}" for name, text in errors.items()}
    g.staff_action = action
    g.staff_form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    return show(case_id), 422


@bp.post("/<int:case_id>/actions/<action>")
def act(case_id: int, action: str) -> Any:
    """Record one staff action on a case as its event; a refused form shows why (422)."""
    if action not in ACTIONS:
        abort(404)
    if current_user.role not in ROLES[action]:
        abort(403)
    errors: dict[str, str] = {}
    record = None
    with transaction() as session:
        found = queries.get_case(session, case_id)
        if found is None:
            abort(404)
        case = found.case
        staff = context(case)
        assert staff is not None
        key = request.form.get("key") or ""
        if not STAFF_KEY.match(key):
            errors["key"] = _refusal("bad_key")
        payload, occurred = _event(action, case, staff, errors)
        if not errors:
            actor = StaffActor(current_user.email, current_user.role)
            try:
                record = record_staff_action(
                    session, case_id, action, payload, key, actor, _now(), occurred
                )
            except StaffActionError as exc:
                errors[exc.field if exc.field in _labels() else "case"] = _refusal(exc.reason)
            except ValueError as exc:  # the intake's own checks (a marshmallow ValidationError)
                errors["case"] = str(exc)
    if errors or record is None:
        return _again(case_id, action, errors)
    if record.created:
        flash(_("Recorded. The journey reacts at its next step."))
    else:
        flash(_("This form was recorded before; nothing was recorded twice."))
    return redirect(url_for("cases.show", case_id=case_id), code=303)
