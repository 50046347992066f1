"""A plan set up by staff for a debtor on the phone: the case page's "Instalment plan" section.

Managers and admins choose the number of instalments and the first date within the journey's
limits (`settings.plans`) and agree the plan for the debtor (`engine.agree_plan`, by the
person's address): the same plan, `plan_agreed` event and audit as the portal's. A one-time
value in the form makes a double click store one plan. Kept apart from designer/cases.py: the
case page only includes `cases/_plan.html`, which reads `case_plan(case_id)`.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from designer.auth import EDIT_ROLES, role_required
from designer.i18n import _, current_lang, money
from engine import PlanRefused, agree_plan, from_minor, plan_options, utcnow
from mahnwerk_web.db import transaction

bp = Blueprint("case_plans", __name__, url_prefix="/cases")


def case_plan(case_id: int) -> dict[str, Any]:
    """What the case page's plan section shows: the plan, or the form and its limits."""
    with transaction() as session:
        try:
            options = plan_options(session, case_id, utcnow())
        except LookupError:
            return {"options": None}
    today = options.today
    plan = options.plan
    words = {
        "open": _("Open"),
        "paid": _("Paid"),
        "missed": _("Missed"),
        "active": _("Active"),
        "completed": _("Completed"),
        "ended": _("Ended"),
        "cancelled": _("Cancelled"),
        "replaced": _("Replaced"),
    }
    rows = [
        (seq, day, money(from_minor(amount, plan.currency), plan.currency), words[status])
        for seq, day, amount, status in (plan.instalments if plan else ())
    ]
    return {
        "options": options,
        "rows": rows,
        "status": words[plan.status] if plan else "",
        "first_max": date.fromordinal(today.toordinal() + options.limits.first_within_days),
        "once": secrets.token_urlsafe(16),
    }


def install(app: Flask) -> None:
    """The blueprint and the template function the case page's section uses."""
    app.register_blueprint(bp)
    app.add_template_global(case_plan, "case_plan")


@bp.post("/<int:case_id>/plan")
@role_required(EDIT_ROLES)
def set_up(case_id: int) -> Response:
    """Agree a plan for the debtor; a refusal is said in words naming the field."""
    once = request.form.get("once", "")
    raw_count = (request.form.get("instalments") or "").strip()
    raw_first = (request.form.get("first_date") or "").strip()
    if not 16 <= len(once) <= 43 or not once.replace("-", "").replace("_", "").isalnum():
        abort(400)
    try:
        count = int(raw_count) if raw_count.isdigit() and len(raw_count) <= 2 else None
        first = date.fromisoformat(raw_first)
    except ValueError:
        first = None
    if count is None:
        flash(_("Instalments: please choose the number of instalments."), "error")
    elif first is None:
        flash(_("First instalment on: please enter a date (YYYY-MM-DD)."), "error")
    else:
        try:
            with transaction() as session:
                _plan, created = agree_plan(
                    session,
                    case_id,
                    f"staff:{case_id}:plan:{once}",
                    count,
                    first,
                    utcnow(),
                    by=current_user.email,
                )
            if created:
                flash(_("The instalment plan is agreed."), "success")
        except PlanRefused as exc:
            field = {"instalments": _("Instalments"), "first_date": _("First instalment on")}
            label = field.get(exc.field)
            words = exc.words.text(current_lang())
            flash(f"{label}: {words}" if label else words, "error")
    return redirect(url_for("cases.show", case_id=case_id) + "#plan-title", code=303)
