"""Provider payment webhooks: POST /hooks/payments/<provider>, verified, stored once, 2xx fast.

The provider's own `parse_webhook` checks the signature before anything is stored; the event
is stored once (unique on provider and event id) and acted on from the database after the
answer (mahnwerk_web.payments.process_soon, and the scheduler's `payments` job). Answers:
202 for a newly stored event, 200 "already stored" for a replay, 400 problem+json for a bad
or stale signature or an unreadable body, 404 problem+json for a provider that is not
configured, 409 problem+json for one whose settings are wrong. The host API's app serves it:
no token, session or CSRF (the signature is the credential).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from api.clock import now
from api.problems import problem
from api.store import writer_lock
from connectors.base import ConnectorError
from connectors.payment import WebhookRejected
from engine import UnknownProvider, take_provider_webhook, utcnow
from mahnwerk_web.db import get_db
from mahnwerk_web.payments import process_soon, providers

bp = Blueprint("payment_hooks", __name__, url_prefix="/hooks")

MAX_BODY = 256 * 1024  # providers' events are a few KB; anything larger is not one of them


@bp.post("/payments/<provider>")
def payment_webhook(provider: str) -> Any:
    """Verify and store one provider event; processing follows outside this request."""
    if (request.content_length or 0) > MAX_BODY:
        return problem(413, f"A payment webhook has at most {MAX_BODY} bytes.")
    registry = providers()
    body = request.get_data(cache=False)
    headers = dict(request.headers.items())
    db = get_db()
    try:
        # Behind the API's writer lock (SQLite): queued with the other API writes and with the
        # processing thread below, not meeting them in SQLite's busy handler (measured: the
        # busy handler's sleeps were most of a webhook's time under load).
        with writer_lock(db):
            accepted = take_provider_webhook(
                db, registry, provider, headers, body, now(), process=False
            )
    except UnknownProvider:
        known = ", ".join(registry.names()) or "none"
        return problem(
            404,
            f"No payment provider called '{provider}' is configured; configured: {known}.",
            kind="unknown-provider",
        )
    except WebhookRejected as exc:
        return problem(400, exc.reason, {"signature": [exc.reason]}, kind="webhook-rejected")
    except ConnectorError as exc:  # e.g. the provider's settings are wrong: say so, store nothing
        return problem(409, f"The payment provider '{provider}' is not set up right: {exc}")
    if accepted.created:
        # The thread has no request: it reads the API's clock itself.
        clock = current_app.config.get("API_CLOCK") or utcnow
        process_soon(db, registry, clock, lambda: writer_lock(db))
        return jsonify(stored=True, event_id=accepted.event_id), 202
    return jsonify(stored=False, event_id=accepted.event_id, detail="already stored"), 200
