"""The sandbox outbox: what would have been sent, as the debtor would see it."""

from __future__ import annotations

from flask import Blueprint, request

from designer.db import transaction
from designer.render import page_or_partial
from engine import queries
from engine.document import CHANNELS

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
STATUSES = ("sandboxed", "pending", "suppressed", "failed")


@bp.get("")
def index() -> str:
    """The newest messages, filtered by channel and status."""
    channel = request.args.get("channel") if request.args.get("channel") in CHANNELS else None
    status = request.args.get("status") if request.args.get("status") in STATUSES else None
    with transaction() as session:
        rows = queries.list_outbox(session, channel=channel, status=status)
    return page_or_partial(
        "outbox/index.html",
        "outbox/_list.html",
        rows=rows,
        channel=channel,
        status=status,
        channels=CHANNELS,
        statuses=STATUSES,
    )
