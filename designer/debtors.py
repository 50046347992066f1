"""The debtor page: one person's cases, combined contact history, holds and contact data, and
their credits, which managers and admins settle: paid back, or set off against an open case.

Settling goes through `engine.settle_credit` (engine/payments/credit_settle.py), which settles a
credit once however often the form is sent; a wrong field answers 422 with the page, the field
named and marked; never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from designer.auth import CREDIT_ROLES
from designer.i18n import _
from engine import (
    SETTLE_WAYS,
    CreditActor,
    CreditRefused,
    Settlement,
    credit_history,
    debtor_credits,
    debtor_page,
    from_minor,
    set_off_choices,
    settle_credit,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("debtors", __name__, url_prefix="/debtors")
MAX_REFERENCE = 100
MAX_NOTE = 1000


@dataclass
class CreditForms:
    """What the credit forms show: the choices, and a refused form's errors and values."""

    allowed: bool
    today: date
    choices: list[Any]
    credit: int | None = None
    how: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)


def hold_words() -> dict[str, str]:
    """The holds on the person, in the reader's language."""
    return {
        "insolvency": _("Insolvency"),
        "deceased": _("Deceased"),
        "breathing_space": _("Breathing space"),
        "cease_contact": _("Asked not to be contacted"),
        "attorney": _("Represented by an attorney"),
    }


def credit_state_words() -> dict[str, str]:
    """Each state of a credit in the reader's language."""
    return {
        "kept": _("Kept as credit"),
        "paid_back": _("Paid back"),
        "set_off": _("Set off"),
        "charged_back": _("Charged back"),
    }


def _now() -> datetime:
    """The moment a settlement is recorded at (tests pass a virtual clock's, as case actions)."""
    clock = current_app.config.get("CASE_ACTIONS_CLOCK") or utcnow
    return clock()  # type: ignore[no-any-return]


def _allowed() -> bool:
    return getattr(current_user, "role", None) in CREDIT_ROLES


@bp.get("/<int:debtor_id>")
def show(debtor_id: int) -> str:
    """A debtor: every case, every message to any of them (newest first), holds, contact,
    credits kept and their history."""
    with transaction() as session:
        page = debtor_page(session, debtor_id)
        if page is None:
            abort(404)
        # Overpayments kept for the person (docs/payments.md, "Overpayment"): staff settle them.
        credits = [
            (from_minor(c.amount_minor, c.currency), c.currency)
            for c in debtor_credits(session, page.debtor.id)
        ]
        history = credit_history(session, page.debtor.id)
        now = _now()
        allowed = _allowed() and any(e.row.state == "kept" for e in history)
        forms = CreditForms(
            allowed=allowed,
            today=now.date(),
            choices=set_off_choices(session, page.debtor.id, now) if allowed else [],
            credit=getattr(g, "credit_id", None),
            how=getattr(g, "credit_how", None),
            errors=getattr(g, "credit_errors", {}),
            form=getattr(g, "credit_form", {}),
        )
        return render_template(
            "debtors/show.html",
            page=page,
            hold_words=hold_words(),
            credits=credits,
            history=history,
            forms=forms,
            state_words=credit_state_words(),
            money=from_minor,
        )


def _labels() -> dict[str, str]:
    return {
        "paid_on": _("Paid back on"),
        "reference": _("Reference"),
        "note": _("Note"),
        "case": _("Case"),
        "credit": _("Credit"),
        "how": _("Action"),
    }


def _refusal(exc: CreditRefused) -> str:
    """The engine's reason in the reader's language."""
    words = {
        ("credit", "unknown"): _("This credit does not exist for this debtor."),
        ("credit", "settled"): _(
            "This credit was settled meanwhile (%(state)s); nothing was recorded.",
            state=credit_state_words().get(str(exc.limit), str(exc.limit)),
        ),
        ("paid_on", "missing"): _("Enter a date as YYYY-MM-DD."),
        ("paid_on", "early"): _("Choose a date from %(low)s.", low=exc.limit),
        ("paid_on", "future"): _("Choose a date until %(high)s.", high=exc.limit),
        ("reference", "long"): _("Write at most %(n)s characters.", n=exc.limit),
        ("note", "long"): _("Write at most %(n)s characters.", n=exc.limit),
        ("case", "missing"): _("Choose one of the listed cases."),
        ("case", "unknown"): _("Choose one of the listed cases."),
        ("case", "currency"): _(
            "Choose a case in %(currency)s, the credit's currency.", currency=exc.limit
        ),
        ("case", "nothing_owed"): _("This case owes nothing more: choose another."),
        ("how", "unknown"): _("This action does not exist."),
    }
    return words.get((exc.field, exc.reason), exc.reason)


def _form(how: str, errors: dict[str, str]) -> Settlement:
    """The posted settlement; a field that is not what it should be goes into `errors`."""
    reference = (request.form.get("reference") or "").strip()
    note = (request.form.get("note") or "").strip()
    if len(reference) > MAX_REFERENCE:
        errors["reference"] = _("Write at most %(n)s characters.", n=MAX_REFERENCE)
    if len(note) > MAX_NOTE:
        errors["note"] = _("Write at most %(n)s characters.", n=MAX_NOTE)
    if how == "paid_back":
        raw = (request.form.get("paid_on") or "").strip()
        try:
            paid_on = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            paid_on = None
        if paid_on is None:
            errors["paid_on"] = _("Enter a date as YYYY-MM-DD.")
        return Settlement(how, paid_on=paid_on, reference=reference, note=note)
    raw = (request.form.get("case") or "").strip()
    case_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
    if case_id is None:
        errors["case"] = _("Choose one of the listed cases.")
    return Settlement(how, case_id=case_id, reference=reference, note=note)


def _again(debtor_id: int, credit_id: int, how: str, errors: dict[str, str]) -> tuple[str, int]:
    """The debtor page again, the form's errors named by field label, 422."""
    labels = _labels()
    g.credit_errors = {name: f"{labels.get(name, name)}: {text}" for name, text in errors.items()}
    g.credit_id, g.credit_how = credit_id, how
    g.credit_form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    return show(debtor_id), 422


@bp.post("/<int:debtor_id>/credits/<int:credit_id>/<how>")
def settle(debtor_id: int, credit_id: int, how: str) -> Any:
    """Record that a kept credit was paid back or set off against an open case, once."""
    if how not in SETTLE_WAYS:
        abort(404)
    if not _allowed():
        abort(403)
    errors: dict[str, str] = {}
    settlement = _form(how, errors)
    done = None
    if not errors:
        actor = CreditActor(current_user.email, current_user.id, current_user.role)
        with transaction() as session:
            try:
                done = settle_credit(session, debtor_id, credit_id, settlement, actor, _now())
            except CreditRefused as exc:
                errors[exc.field if exc.field in _labels() else "credit"] = _refusal(exc)
    if done is None:
        return _again(debtor_id, credit_id, how, errors)
    flash(_said(done))
    return redirect(url_for("debtors.show", debtor_id=debtor_id), code=303)


def _said(done: Any) -> str:
    """What the flash says of a settlement."""
    if done.replayed:
        return _("This was recorded before; nothing was recorded twice.")
    amount = from_minor(done.settled_minor, done.currency)
    if done.state == "paid_back":
        return _(
            "Recorded: %(amount)s %(currency)s paid back.", amount=amount, currency=done.currency
        )
    said = _(
        "Recorded: %(amount)s %(currency)s set off against the case, booked at its next step.",
        amount=amount,
        currency=done.currency,
    )
    if done.rest_minor:
        rest = from_minor(done.rest_minor, done.currency)
        said += " " + _(
            "The case owed less: %(rest)s %(currency)s stay kept as credit.",
            rest=rest,
            currency=done.currency,
        )
    return said
