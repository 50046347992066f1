"""The outbox: every queued message as the debtor sees it, its delivery status, and retries.

Filters by channel and status; "deferred" (a pending message the contact policy holds back) is
a status of its own here, also per deferral reason. Dead-lettered and failed messages can be put
back in the queue by managers and admins through the engine's `Dispatcher.retry_dead`.
"""

from __future__ import annotations

import threading

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from designer import htmx
from designer.auth import EDIT_ROLES, role_required
from designer.i18n import _
from designer.render import page_or_partial
from engine import (
    CHANNELS,
    DEFERRED,
    CaseRow,
    Dispatcher,
    OutboxRow,
    deferral_reasons,
    list_outbox,
    utcnow,
)
from mahnwerk_web.db import get_db, transaction

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
STATUSES = (
    "pending",
    "sending",
    "sent",
    "sandboxed",
    "combined",  # carried by another row's message (docs/debtors.md, "Consolidation")
    "deferred",
    "suppressed",
    "failed",
    "dead",
)
RETRYABLE = frozenset({"dead", "failed"})
DISPATCHER_KEY = "mahnwerk_retry_dispatcher"
_dispatcher_lock = threading.Lock()


def dispatcher() -> Dispatcher:
    """The engine's dispatcher for this app, built on first use (only its retry is used here)."""
    extensions = current_app.extensions
    with _dispatcher_lock:
        if DISPATCHER_KEY not in extensions:
            extensions[DISPATCHER_KEY] = Dispatcher(
                get_db(), portal_base_url=current_app.config["PORTAL_BASE_URL"]
            )
        return extensions[DISPATCHER_KEY]


def _filters() -> tuple[str | None, str | None]:
    channel = request.args.get("channel")
    status = request.args.get("status") or ""
    known = status in STATUSES or (status.startswith(DEFERRED) and len(status) > len(DEFERRED))
    return (channel if channel in CHANNELS else None), (status if known else None)


@bp.get("")
def index() -> str:
    """The newest messages, filtered by channel and status."""
    channel, status = _filters()
    with transaction() as session:
        rows = list_outbox(session, channel=channel, status=status)
        reasons = deferral_reasons(session)
    if status and status.startswith(DEFERRED) and status not in reasons:
        reasons.append(status)  # keep the chosen option even when no message has it any more
    return page_or_partial(
        "outbox/index.html",
        "outbox/_list.html",
        rows=rows,
        channel=channel,
        status=status,
        channels=CHANNELS,
        statuses=STATUSES,
        reasons=reasons,
        retryable=RETRYABLE,
    )


def _back() -> str:
    target = request.form.get("next") or ""
    if target.startswith("/outbox") and not target.startswith("//"):
        return target
    return url_for("outbox.index")


@bp.post("/<int:message_id>/retry")
@role_required(EDIT_ROLES)
def retry(message_id: int) -> Response | str:
    """Put a dead or failed message back in the queue; htmx gets the message's new state."""
    with transaction() as session:
        if session.get(OutboxRow, message_id) is None:
            abort(404)
    done = dispatcher().retry_dead(message_id, utcnow())
    if done:
        note = _("Message %(id)s is back in the queue.", id=message_id)
    else:
        note = _("Message %(id)s is not dead or failed any more; nothing to retry.", id=message_id)
    if htmx and not htmx.boosted:
        with transaction() as session:
            row = session.get(OutboxRow, message_id)
            case = session.get(CaseRow, row.case_id)
            return render_template(
                "outbox/_item.html", m=row, c=case, note=note, retryable=RETRYABLE
            )
    flash(note, "message" if done else "error")
    return redirect(_back())
