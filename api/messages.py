"""Messages of a case: the outbox rows with their status and rendered content."""

from __future__ import annotations

from typing import Any

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.cases import load_case
from engine import messages
from mahnwerk_web.db import transaction

blp = Blueprint("api_messages", __name__, description="What was (or will be) sent to debtors.")
blp.before_request(check_request)


@blp.get("/cases/<external_id>/messages")
@blp.arguments(schemas.MessageArgs(), location="query")
@blp.response(200, schemas.MessagesOut)
def case_messages(args: dict[str, Any], external_id: str) -> Any:
    """The case's messages, oldest first, optionally only those with one status."""
    with transaction() as session:
        view = load_case(session, external_id)
        return {"items": messages(session, view.case.id, args.get("status"))}
