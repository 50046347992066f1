"""Change or cancel an agreed plan: life changes, and missing instalments should not be the way out.

`/p/<token>/plan/change` offers a new plan for what is still open, within the journey's limits
(prefilled with the instalments left and the next date); posting it with `step=preview` shows
the new schedule, `step=confirm` replaces the plan (`engine.change_plan`) under a key made from
the form's one-time value, so a double submit stores one change. `/p/<token>/plan/cancel` asks
once more and cancels it (`engine.cancel_plan`). Each form names the plan it was made for: a form
for a plan that changed or ended meanwhile answers 409, a plan of another case 422. A plan the
provider collects on its own schedule (GoCardless) is not changed here: the page asks the debtor
to contact the creditor, since the payment contract has no way to cancel that schedule.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine import (
    PlanNotFound,
    PlanOptions,
    PlanRefused,
    PlanStale,
    cancel_plan,
    change_plan,
    changeable_plan,
    propose_plan,
    provider_collects,
)
from mahnwerk_web import db
from portal import PREFIX, current_lang, now
from portal.payments import money
from portal.plans import _choice, _options, _refused_words, _rows
from portal.views import ONCE, open_case

bp = Blueprint("portal_plan_change", __name__, url_prefix=PREFIX)

STEPS = ("preview", "confirm")


def _why_not(options: PlanOptions) -> str | None:
    """Why the case's plan cannot be changed online, in words; None when it can."""
    plan = options.plan
    if plan is None or plan.status != "active":
        return _("You have no active instalment plan to change.")
    if provider_collects(plan):
        return _(
            "Our payment provider collects this plan on its own schedule, which cannot be "
            "changed here. Please contact %(creditor)s to change or cancel it.",
            creditor=_creditor(),
        )
    return None


def _creditor() -> str:
    from flask import current_app

    return current_app.config.get("CREDITOR_NAME") or _("us")


def _prefill(options: PlanOptions) -> dict[str, str]:
    """The instalments still open and the next open date, within the limits of a new plan."""
    plan = options.plan
    assert plan is not None
    left = [(day, status) for _seq, day, _amount, status in plan.instalments if status == "open"]
    count = max(2, min(len(left), options.most))
    low = options.today
    high = date.fromordinal(low.toordinal() + options.limits.first_within_days)
    first = min(max(left[0][0] if left else low, low), high)
    return {"instalments": str(count), "first_date": first.isoformat()}


def _page(
    token: str,
    options: PlanOptions,
    mode: str,
    errors: dict[str, str] | None = None,
    status: int = 200,
    preview: list[dict[str, Any]] | None = None,
    once: str | None = None,
) -> tuple[str, int]:
    plan = options.plan
    why_not = _why_not(options)
    limits = options.limits
    last_first = date.fromordinal(options.today.toordinal() + limits.first_within_days)
    posted = request.method == "POST" and request.form.get("step") in STEPS
    fits = why_not is None and options.most >= 2
    form = request.form if posted else (_prefill(options) if fits else {})
    return (
        render_template(
            "portal/plan_change.html",
            token=token,
            mode=mode,
            options=options,
            plan=plan,
            plan_rows=_rows(plan.instalments, plan.currency) if plan else [],
            why_not=why_not,
            # What stands in the way of any new plan (the balance, the journey) stops a change.
            no_new=_refused_words(options.refused) if options.refused else None,
            amount=money(options.total_minor, options.currency),
            minimum=money(limits.min_instalment_minor, options.currency),
            first_min=options.today.isoformat(),
            first_max=last_first.isoformat(),
            interval=_("every month") if limits.interval == "monthly" else _("every two weeks"),
            preview=preview,
            errors=errors or {},
            form=form,
            once=once or secrets.token_urlsafe(16),
        ),
        status,
    )


def _refused(token: str, case_id: int, mode: str, exc: PlanRefused) -> tuple[str, int]:
    """A refusal as a page naming the field: a stale form 409, a wrong plan or choice 422."""
    options = _options(case_id)
    if isinstance(exc, PlanStale):
        words = _("Your instalment plan was changed or has ended meanwhile. Please look again.")
        return _page(token, options, mode, {"plan": words}, 409)
    if isinstance(exc, PlanNotFound):
        words = _("The form does not name your instalment plan. Please try again.")
        return _page(token, options, mode, {"plan": words}, 422)
    if exc.field == "plan":  # the case or the provider's schedule stands in the way
        return _page(token, options, mode, {"plan": _why_not(options) or _words(exc)}, 409)
    return _page(token, options, mode, {exc.field: _words(exc)}, 422, once=_once())


def _words(exc: PlanRefused) -> str:
    return exc.words.text(current_lang())


def _once() -> str | None:
    once = request.form.get("once", "")
    return once if ONCE.match(once) else None


def _plan_id() -> int:
    """The plan the form was made for (0 when it names none: no plan has that id)."""
    raw = (request.form.get("plan") or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 18 else 0


def _incomplete(token: str, options: PlanOptions, mode: str) -> tuple[str, int]:
    words = _("The form is incomplete. Please try again.")
    return _page(token, options, mode, {"plan": words}, 400)


@bp.get("/<token>/plan/change")
def change_page(token: str) -> Any:
    """The form for a new plan in place of the active one (or why it cannot be changed)."""
    access, _case = open_case(token)
    return _page(token, _options(access.case_id), "change")


@bp.post("/<token>/plan/change")
def change_post(token: str) -> Any:
    """Show the new schedule (preview), or replace the plan by it (confirm), once per form."""
    access, _case = open_case(token)
    once, step = request.form.get("once", ""), request.form.get("step", "")
    if not ONCE.match(once) or step not in STEPS:
        return _incomplete(token, _options(access.case_id), "change")
    errors: dict[str, str] = {}
    count, first = _choice(errors)
    if errors:
        return _page(token, _options(access.case_id), "change", errors, 422, once=once)
    assert count is not None and first is not None
    key = f"portal:{access.case_id}:plan-change:{once}"
    try:
        with db.transaction() as session:
            if step == "preview":
                changeable_plan(session, access.case_id, _plan_id())
                parts = propose_plan(session, access.case_id, count, first, now())
            else:  # the engine checks the key first: a double submit finds its change
                change_plan(session, access.case_id, _plan_id(), key, count, first, now())
    except PlanRefused as exc:
        return _refused(token, access.case_id, "change", exc)
    if step == "confirm":
        return redirect(url_for("portal_plans.plan_page", token=token, changed=1), code=303)
    options = _options(access.case_id)
    rows = [(p.seq, p.due_date, p.amount_minor, "open") for p in parts]
    return _page(token, options, "change", preview=_rows(rows, options.currency), once=once)


@bp.get("/<token>/plan/cancel")
def cancel_page(token: str) -> Any:
    """Ask once more before cancelling the active plan."""
    access, _case = open_case(token)
    return _page(token, _options(access.case_id), "cancel")


@bp.post("/<token>/plan/cancel")
def cancel_post(token: str) -> Any:
    """Cancel the active plan (a second submit finds it cancelled: the same answer)."""
    access, _case = open_case(token)
    if not ONCE.match(request.form.get("once", "")):
        return _incomplete(token, _options(access.case_id), "cancel")
    try:
        with db.transaction() as session:
            cancel_plan(session, access.case_id, _plan_id(), now())
    except PlanRefused as exc:
        return _refused(token, access.case_id, "cancel", exc)
    return redirect(url_for("portal_plans.plan_page", token=token, cancelled=1), code=303)
