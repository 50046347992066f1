"""Webhooks (admins only): subscriptions, their delivery log, and replays.

Everything goes through the engine: `engine.delivery.webhooks.create_subscription`,
`deactivate_subscription` and `replay_delivery` change state, `engine.storage.queries` reads it. The
signing secret is shown once, in the answer to the create form; it is never put in the session,
a flash message or a later page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from designer import htmx
from designer.auth import ADMIN_ROLES, role_required
from designer.i18n import _, localized
from engine import (
    EVENT_TYPES,
    WebhookError,
    create_subscription,
    deactivate_subscription,
    get_webhook_delivery,
    list_webhook_deliveries,
    list_webhook_subscriptions,
    replay_delivery,
    utcnow,
)
from mahnwerk_web.db import transaction

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
STATUSES = ("pending", "delivered", "failed", "cancelled")
URL_MAX, DESCRIPTION_MAX = 500, 200  # the columns' lengths


def _filters() -> tuple[int | None, str | None]:
    subscription = request.args.get("subscription", "")
    status = request.args.get("status", "")
    return (
        int(subscription) if subscription.isdigit() and len(subscription) < 10 else None,
        status if status in STATUSES else None,
    )


def _context() -> dict[str, Any]:
    subscription_id, status = _filters()
    with transaction() as session:
        subscriptions = list_webhook_subscriptions(session)
        rows = list_webhook_deliveries(session, subscription_id, status)
    return {
        "subscriptions": subscriptions,
        "rows": rows,
        "subscription_id": subscription_id,
        "status": status,
        "statuses": STATUSES,
        "event_types": EVENT_TYPES,
    }


def _page(status: int = 200, **context: Any) -> tuple[str, int, dict[str, str]]:
    context.setdefault("form", {"event_types": []})
    page = render_template("webhooks/index.html", **_context(), **context)
    return page, status, {"Cache-Control": "no-store"}  # the page may carry a new secret


@bp.get("")
@role_required(ADMIN_ROLES)
def index() -> Any:
    """Subscriptions, the form for a new one, and the delivery log (filtered)."""
    if htmx and not htmx.boosted:  # the filter form swaps only the log
        return render_template("webhooks/_log.html", **_context())
    return _page()


@bp.post("")
@role_required(ADMIN_ROLES)
def create() -> Any:
    """Subscribe a URL; the answer shows the signing secret, this once."""
    url = request.form.get("url", "").strip()
    description = request.form.get("description", "").strip()
    kinds = request.form.getlist("event_types")
    form = {"url": url, "description": description, "event_types": kinds}
    if not url or len(url) > URL_MAX:
        return _page(400, form=form, error=_("Type a URL of at most %(n)s characters.", n=URL_MAX))
    if len(description) > DESCRIPTION_MAX:
        error = _("The description has at most %(n)s characters.", n=DESCRIPTION_MAX)
        return _page(400, form=form, error=error)
    if not kinds:
        return _page(400, form=form, error=_("Choose at least one event type."))
    try:
        with transaction() as session:
            row = create_subscription(session, url, kinds, utcnow(), description or None)
            created = {"id": row.id, "url": row.url, "secret": row.secret}
    except WebhookError as exc:
        return _page(400, form=form, error=localized(exc.words))
    return _page(201, created=created)


@bp.post("/<int(max=2147483647):subscription_id>/deactivate")
@role_required(ADMIN_ROLES)
def deactivate(subscription_id: int) -> Response:
    """Stop a subscription: its pending deliveries are cancelled, its log stays."""
    try:
        with transaction() as session:
            row = deactivate_subscription(session, subscription_id)
            url = row.url
    except WebhookError:
        abort(404)
    flash(_("The subscription for %(url)s is deactivated.", url=url))
    return redirect(url_for("webhooks.index"))


def _back() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/webhooks") and not target.startswith("//"):
        return target
    return url_for("webhooks.index")


@bp.post("/deliveries/<int(max=9223372036854775807):delivery_id>/replay")
@role_required(ADMIN_ROLES)
def replay(delivery_id: int) -> Response | str:
    """Send a delivery again on the next delivery run; htmx gets the delivery's new row."""
    with transaction() as session:
        found = get_webhook_delivery(session, delivery_id)
        if found is None:
            abort(404)
        done = found[1].active  # a stopped subscription's endpoint gets nothing more
        if done:
            replay_delivery(session, delivery_id, utcnow())
    if done:
        note = _("Delivery %(id)s will be sent again on the next run.", id=delivery_id)
    else:
        note = _(
            "The subscription is deactivated; delivery %(id)s is not sent again.", id=delivery_id
        )
    if htmx and not htmx.boosted:
        with transaction() as session:
            delivery, subscription = get_webhook_delivery(session, delivery_id)  # type: ignore[misc]
        return render_template("webhooks/_delivery.html", d=delivery, s=subscription, note=note)
    flash(note, "message" if done else "error")
    return redirect(_back())
