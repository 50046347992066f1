"""The debtor page: one person's cases, combined contact history, holds and contact data."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from designer.i18n import _
from engine import debtor_credits, debtor_page, from_minor
from mahnwerk_web.db import transaction

bp = Blueprint("debtors", __name__, url_prefix="/debtors")


def hold_words() -> dict[str, str]:
    """The holds on the person, in the reader's language."""
    return {
        "insolvency": _("Insolvency"),
        "deceased": _("Deceased"),
        "breathing_space": _("Breathing space"),
        "cease_contact": _("Asked not to be contacted"),
        "attorney": _("Represented by an attorney"),
    }


@bp.get("/<int:debtor_id>")
def show(debtor_id: int) -> str:
    """A debtor: every case, every message to any of them (newest first), holds, contact."""
    with transaction() as session:
        page = debtor_page(session, debtor_id)
        if page is None:
            abort(404)
        # Overpayments kept for the person (docs/payments.md, "Overpayment"): staff pay them back.
        credits = [
            (from_minor(c.amount_minor, c.currency), c.currency)
            for c in debtor_credits(session, page.debtor.id)
        ]
        return render_template(
            "debtors/show.html", page=page, hold_words=hold_words(), credits=credits
        )
