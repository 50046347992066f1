"""Debtors: the person owing cases, by the host's customer id; read it, change its data."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from marshmallow import ValidationError

from api import schemas
from api.auth import check_request
from api.blueprint import Blueprint
from api.clock import now
from api.idempotency import KEY_DOC, idempotent
from api.store import write_transaction
from engine import UnknownDebtor, debtor_cases, get_debtor, update_debtor
from mahnwerk_web.db import transaction

blp = Blueprint("api_debtors", __name__, description="Debtors: the persons owing the cases.")
blp.before_request(check_request)


def debtor_out(session: Any, external_id: str) -> dict[str, Any]:
    """A debtor with their cases, or a 404 problem."""
    row = get_debtor(session, external_id)
    if row is None:
        abort(
            404, message=f"There is no debtor with the id '{external_id}'.", kind="unknown-debtor"
        )
    prefs = row.contact_prefs or {}
    return {
        **{k: getattr(row, k) for k in schemas.DebtorOut._declared_fields if hasattr(row, k)},
        "consent": prefs.get("consent", {}),
        "opted_out": prefs.get("opted_out", []),
        "cases": [
            {"external_id": c.external_id, "status": c.status, "amount_open": c.amount_open}
            for c in debtor_cases(session, row.id)
        ],
    }


@blp.get("/debtors/<external_id>")
@blp.response(200, schemas.DebtorOut)
def get_one(external_id: str) -> Any:
    """A debtor: contact data, consent and opt-outs, and their cases."""
    with transaction() as session:
        return debtor_out(session, external_id)


@blp.patch("/debtors/<external_id>")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.DebtorPatch())
@blp.response(200, schemas.DebtorOut)
def patch_one(data: dict[str, Any], external_id: str) -> Any:
    """Change a debtor's data; it reaches every open case of the debtor (audited)."""
    try:
        with write_transaction() as session:
            update_debtor(session, external_id, data, now())
            return debtor_out(session, external_id)
    except UnknownDebtor as exc:
        abort(404, message=str(exc), kind="unknown-debtor")
    except ValidationError as exc:
        abort(422, errors=exc.messages)
