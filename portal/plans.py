"""Agree a plan: the debtor chooses instalments within the journey's limits, sees the schedule,
and confirms it; where the journey's provider takes debits, with a SEPA mandate (checked IBAN).

`/p/<token>/plan` shows the form (or the case's plan). Posting it with `step=preview` shows the
schedule the choice makes (dates and amounts summing exactly to what is open) with a button to
agree; `step=confirm` stores the plan (`engine.agree_plan`) under a key made from the form's
one-time value, so a double submit stores one plan and one `plan_agreed` event. An active plan
links to changing or cancelling it (portal/plan_change.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from babel.dates import format_date
from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import (
    Mandate,
    MandateRefused,
    PlanOptions,
    PlanRefused,
    agree_plan,
    check_holder,
    check_iban,
    mask_iban,
    plan_options,
    propose_plan,
    provider_collects,
    provider_mandate,
)
from mahnwerk_web import db
from mahnwerk_web.payments import providers
from portal import PREFIX, current_lang, now
from portal.payments import locale_code, money
from portal.views import ONCE, open_case

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

bp = Blueprint("portal_plans", __name__, url_prefix=PREFIX)

STEPS = ("preview", "confirm")


def plan_section(case_id: int, session: Session | None = None) -> dict[str, Any]:
    """What the case page's "Pay in instalments" section needs: offered, or agreed already
    (read in the caller's transaction when it passes one: the page reads once)."""
    if session is None:
        with db.reading() as reading:
            return plan_section(case_id, reading)
    options = plan_options(session, case_id, now())
    agreed = options.plan is not None and options.plan.status == "active"
    return {"offered": options.refused is None or agreed, "agreed": agreed}


def _status_words() -> dict[str, str]:
    return {
        "open": _("Open"),
        "paid": _("Paid"),
        "missed": _("Missed"),
        "cancelled": _("Cancelled"),
    }


def _refused_words(reason: str) -> str:
    return {
        "closed": _("This case is closed."),
        "nothing_open": _("No amount is open on this case. Thank you."),
        "not_allowed": _("This claim cannot be paid in instalments. Please contact us."),
        "too_small": _("The amount open is too small for instalments."),
    }[reason]


def _rows(parts: Any, currency: str) -> list[dict[str, Any]]:
    words = _status_words()
    return [
        {
            "seq": seq,
            "date": format_date(day, "long", locale=locale_code()),
            "amount": money(amount, currency),
            "status": words.get(status, status),
        }
        for seq, day, amount, status in parts
    ]


def _page(
    token: str,
    options: PlanOptions,
    errors: dict[str, str] | None = None,
    status: int = 200,
    preview: list[dict[str, Any]] | None = None,
    once: str | None = None,
) -> tuple[str, int]:
    import secrets

    # A cancelled plan is over: the page offers a new one (and says it was cancelled).
    shown = options.plan is not None and options.plan.status in ("active", "completed")
    plan = options.plan if shown else None
    limits = options.limits
    last_first = date.fromordinal(options.today.toordinal() + limits.first_within_days)
    return (
        render_template(
            "portal/plan.html",
            token=token,
            options=options,
            amount=money(options.total_minor, options.currency),
            minimum=money(limits.min_instalment_minor, options.currency),
            plan=plan,
            plan_rows=_rows(plan.instalments, plan.currency) if plan else [],
            plan_total=money(plan.total_minor, plan.currency) if plan else "",
            refused=_refused_words(options.refused) if options.refused and not plan else None,
            first_min=options.today.isoformat(),
            first_max=last_first.isoformat(),
            interval=_("every month") if limits.interval == "monthly" else _("every two weeks"),
            preview=preview,
            errors=errors or {},
            form=request.form if request.method == "POST" else {},
            once=once or secrets.token_urlsafe(16),
            done=request.args.get("done") == "1",
            changed=request.args.get("changed") == "1",
            cancelled=request.args.get("cancelled") == "1",
            changeable=plan is not None and plan.status == "active",
            collected=plan is not None and provider_collects(plan),
        ),
        status,
    )


def _options(case_id: int) -> PlanOptions:
    with db.reading() as session:
        return plan_options(session, case_id, now())


@bp.get("/<token>/plan")
def plan_page(token: str) -> Any:
    """The plan form, or the case's plan with its instalments."""
    open_case(token)
    return _page(token, _options(g.case_id))


def _choice(errors: dict[str, str]) -> tuple[int | None, date | None]:
    raw_count = (request.form.get("instalments") or "").strip()
    count = int(raw_count) if raw_count.isdigit() and len(raw_count) <= 2 else None
    if count is None:
        errors["instalments"] = _("Please choose the number of instalments.")
    try:
        first: date | None = date.fromisoformat((request.form.get("first_date") or "").strip())
    except ValueError:
        errors["first_date"] = _("Please enter a date (YYYY-MM-DD).")
        first = None
    return count, first


def _mandate(options: PlanOptions, errors: dict[str, str]) -> Mandate | None:
    if not options.needs_mandate:
        return None
    holder = iban = ""
    try:
        holder = check_holder(request.form.get("account_holder", ""))
    except MandateRefused as exc:
        errors[exc.field] = exc.words.text(current_lang())
    try:
        iban = check_iban(request.form.get("iban", ""))
    except MandateRefused as exc:
        errors[exc.field] = exc.words.text(current_lang())
    if not holder or not iban:
        return None
    return Mandate(options.provider, holder, mask_iban(iban))


@bp.post("/<token>/plan")
def plan_post(token: str) -> Any:
    """Show the schedule of a choice (preview), or agree to it (confirm), once per form."""
    access, case = open_case(token)
    options = _options(access.case_id)
    once = request.form.get("once", "")
    step = request.form.get("step", "")
    if not ONCE.match(once) or step not in STEPS:
        return _page(token, options, {"plan": _("The form is incomplete. Please try again.")}, 400)
    if options.plan is not None and options.plan.status == "active":
        return redirect(url_for("portal_plans.plan_page", token=token), code=303)
    errors: dict[str, str] = {}
    count, first = _choice(errors)
    parts = None
    if count is not None and first is not None:
        try:
            with db.transaction() as session:
                parts = propose_plan(session, access.case_id, count, first, now())
        except PlanRefused as exc:
            errors[exc.field] = exc.words.text(current_lang())
    mandate = _mandate(options, errors)
    if errors or parts is None:
        return _page(token, options, errors, 422, once=once)
    rows = [(p.seq, p.due_date, p.amount_minor, "open") for p in parts]
    if step == "preview":
        return _page(token, options, preview=_rows(rows, options.currency), once=once)
    assert count is not None and first is not None
    key = f"portal:{access.case_id}:plan:{once}"
    if mandate is not None:
        # A provider that keeps mandates (GoCardless) gets the entered account now, under the
        # plan's key (outside any transaction; a retry makes no second mandate).
        try:
            made = provider_mandate(
                providers(),
                options.provider,
                key,
                mandate.account_holder,
                check_iban(request.form.get("iban", "")),
                options.currency,
                case.external_id,
            )
        except MandateRefused as exc:
            return _page(
                token, options, {exc.field: exc.words.text(current_lang())}, 422, once=once
            )
        mandate = replace(mandate, provider_mandate=made)
    try:
        with db.transaction() as session:
            agree_plan(
                session,
                access.case_id,
                key,
                count,
                first,
                now(),
                by="portal",
                mandate=mandate,
            )
    except PlanRefused as exc:  # the balance or the case changed since the preview
        words = exc.words.text(current_lang())
        return _page(token, _options(access.case_id), {exc.field: words}, 409)
    return redirect(url_for("portal_plans.plan_page", token=token, done=1), code=303)
