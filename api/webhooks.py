"""Webhook subscriptions, their delivery log and replays."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from sqlalchemy import select

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.clock import now
from api.store import write_transaction
from engine import (
    SubscriptionInactive,
    WebhookError,
    WebhookSubscriptionRow,
    create_subscription,
    deactivate_subscription,
    deliveries,
    replay_delivery,
)
from mahnwerk_web.db import transaction

blp = Blueprint(
    "api_webhooks",
    __name__,
    description=(
        "Signed webhooks: HMAC-SHA256 over '{timestamp}.{body}' in "
        "'Mahnwerk-Signature: t=<unix seconds>,v1=<hex>'; retried with exponential backoff."
    ),
)
blp.before_request(check_request)


def _subscription(session: Any, subscription_id: int) -> WebhookSubscriptionRow:
    row = session.get(WebhookSubscriptionRow, subscription_id)
    if row is None:
        abort(404, message=f"There is no subscription {subscription_id}.", kind="unknown")
    return row


def _out(row: WebhookSubscriptionRow, with_secret: bool = False) -> dict[str, Any]:
    fields = ("id", "url", "event_types", "active", "description", "created_at")
    out = {k: getattr(row, k) for k in fields}
    return {**out, "secret": row.secret} if with_secret else out


@blp.post("/webhooks")
@blp.arguments(schemas.SubscriptionIn())
@blp.response(201, schemas.SubscriptionOut)
def subscribe(data: dict[str, Any]) -> Any:
    """Subscribe a URL to event types; the answer carries the signing secret, once."""
    try:
        with write_transaction() as session:
            row = create_subscription(
                session, data["url"], data["event_types"], now(), data["description"]
            )
            return _out(row, with_secret=True)
    except WebhookError as exc:
        abort(422, errors={"url": [str(exc)]})


@blp.get("/webhooks")
@blp.response(200, schemas.SubscriptionsOut)
def subscriptions() -> Any:
    """Every subscription, active or not."""
    with transaction() as session:
        rows = session.scalars(select(WebhookSubscriptionRow).order_by(WebhookSubscriptionRow.id))
        return {"items": [_out(r) for r in rows]}


@blp.delete("/webhooks/<int(max=2147483647):subscription_id>")
@blp.response(204)
def unsubscribe(subscription_id: int) -> Any:
    """Stop a subscription; pending deliveries are cancelled, the log stays."""
    with write_transaction() as session:
        _subscription(session, subscription_id)
        deactivate_subscription(session, subscription_id)


@blp.get("/webhooks/<int(max=2147483647):subscription_id>/deliveries")
@blp.arguments(schemas.DeliveryArgs(), location="query")
@blp.response(200, schemas.DeliveriesOut)
def delivery_log(args: dict[str, Any], subscription_id: int) -> Any:
    """The delivery log: every event sent to this subscription with its last answer."""
    with transaction() as session:
        _subscription(session, subscription_id)
        return {"items": deliveries(session, subscription_id, args.get("status"), args["limit"])}


@blp.post("/webhooks/deliveries/<int(max=2147483647):delivery_id>/replay")
@blp.response(202, schemas.DeliveryOut)
@blp.alt_response(409, description="The delivery's subscription is deactivated.")
def replay(delivery_id: int) -> Any:
    """Send a delivery again on the next delivery run (not for a deactivated subscription)."""
    try:
        with write_transaction() as session:
            return replay_delivery(session, delivery_id, now())
    except SubscriptionInactive as exc:
        abort(409, message=str(exc), kind="subscription-inactive")
    except WebhookError as exc:
        abort(404, message=str(exc), kind="unknown")
