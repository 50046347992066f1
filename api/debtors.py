"""Debtors: the person owing cases, by the host's customer id; read, change, merge, hold."""

from __future__ import annotations

from typing import Any

from flask_smorest import abort
from marshmallow import ValidationError

from api import schemas
from api.auth import check_request, token
from api.blueprint import Blueprint
from api.clock import now
from api.idempotency import KEY_DOC, idempotent
from api.store import write_transaction
from engine import (
    CreditActor,
    CreditRefused,
    MergeRefused,
    NoCases,
    Settlement,
    UnknownDebtor,
    active_holds,
    api_errors,
    credit_history,
    debtor_cases,
    debtor_credits,
    from_minor,
    get_debtor,
    merge_debtors,
    record_debtor_event,
    settle_credit,
    surviving,
    update_debtor,
)
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
    merged_into = None
    if row.merged_into_id is not None:  # the old id of a merged debtor shows the one that stays
        try:
            row = surviving(session, row)
        except MergeRefused as exc:
            abort(409, message=str(exc), kind="debtor-merge")
        merged_into = row.external_id
    prefs = row.contact_prefs or {}
    cases = debtor_cases(session, row.id)
    return {
        **{k: getattr(row, k) for k in schemas.DebtorOut._declared_fields if hasattr(row, k)},
        "consent": prefs.get("consent", {}),
        "opted_out": prefs.get("opted_out", []),
        "cases": [
            {"external_id": c.external_id, "status": c.status, "amount_open": c.amount_open}
            for c in cases
        ],
        "holds": sorted(active_holds(session, [c.id for c in cases])),
        "credits": [
            {"amount": from_minor(c.amount_minor, c.currency), "currency": c.currency}
            for c in debtor_credits(session, row.id)
        ],
        "merged_into": merged_into,
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


@blp.post("/debtors/<external_id>/merge")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.DebtorMergeIn())
@blp.response(200, schemas.DebtorMergeOut)
def merge(data: dict[str, Any], external_id: str) -> Any:
    """Merge this debtor into another: cases, contact history and holds move (audited).

    Asked again, the same merge answers `replayed: true` and moves nothing.
    """
    try:
        with write_transaction() as session:
            result = merge_debtors(session, external_id, data["into"], now())
            return {
                "debtor": result.debtor,
                "into": result.into,
                "cases": list(result.cases),
                "holds": list(result.holds),
                "replayed": result.replayed,
            }
    except UnknownDebtor as exc:
        abort(404, message=str(exc), kind="unknown-debtor")
    except MergeRefused as exc:
        abort(422, message=str(exc), errors={exc.field: [str(exc)]})
    except ValidationError as exc:  # data of the debtor that stays a case cannot take
        abort(422, errors=exc.messages)


@blp.post("/debtors/<external_id>/events")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.DebtorEventIn())
@blp.response(202, schemas.DebtorEventOut, description="Stored for every case of the debtor.")
def post_event(data: dict[str, Any], external_id: str) -> Any:
    """An event about the person (insolvency, death, breathing space, cease-contact, attorney
    and their ends): held or released on every case of the debtor in the next tick."""
    try:
        with write_transaction() as session:
            row = get_debtor(session, external_id)
            if row is None:
                raise UnknownDebtor(f"There is no debtor with the id '{external_id}'.")
            row = surviving(session, row)
            cases = record_debtor_event(
                session,
                row.id,
                data["event_id"],
                data["type"],
                data["payload"],
                now(),
                data.get("occurred_at"),
            )
            return {"event_id": data["event_id"], "type": data["type"], "cases": cases}
    except UnknownDebtor as exc:
        abort(404, message=str(exc), kind="unknown-debtor")
    except NoCases as exc:
        abort(409, message=str(exc), kind="debtor-without-cases")
    except ValidationError as exc:  # a payload field named as `payload.<field>` (`until` ...)
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        abort(422, errors=api_errors(data["type"], messages))
    except MergeRefused as exc:
        abort(422, errors={exc.field: [str(exc)]})


def _debtor_row(session: Any, external_id: str) -> Any:
    """The debtor (a merged one: the debtor that stays), or a 404 problem."""
    row = get_debtor(session, external_id)
    if row is None:
        abort(
            404, message=f"There is no debtor with the id '{external_id}'.", kind="unknown-debtor"
        )
    try:
        return surviving(session, row)
    except MergeRefused as exc:
        abort(409, message=str(exc), kind="debtor-merge")


def credit_out(entry: Any) -> dict[str, Any]:
    """One credit (engine.CreditEntry) as the API shows it."""
    row = entry.row
    settled = row.settled_minor
    return {
        "id": row.id,
        "amount": from_minor(row.amount_minor, row.currency),
        "currency": row.currency,
        "state": row.state,
        "created_at": row.created_at,
        "from_case": entry.origin_case,
        "rest_of": row.rest_of_id,
        "settled_amount": None if settled is None else from_minor(settled, row.currency),
        "settled_on": row.settled_on,
        "settled_at": row.settled_at,
        "settled_by": row.settled_by,
        "set_off_case": entry.set_off_case,
        "reference": row.reference,
        "note": row.note,
    }


@blp.get("/debtors/<external_id>/credits")
@blp.response(200, schemas.DebtorCreditsOut)
def get_credits(external_id: str) -> Any:
    """Every credit of the debtor, newest first: kept, paid back, set off or charged back."""
    with transaction() as session:
        row = _debtor_row(session, external_id)
        return {"credits": [credit_out(e) for e in credit_history(session, row.id)]}


# The reasons of engine.CreditRefused that are about a field of the body, in words.
REFUSALS = {
    "unknown": "Not an open case of this debtor.",
    "currency": "The case is in another currency than the credit ({limit}).",
    "nothing_owed": "The case owes nothing more.",
    "early": "Before the credit was kept ({limit}).",
    "future": "After today ({limit}) in the debtor's time zone.",
    "missing": "Required.",
    "long": "At most {limit} characters.",
}


@blp.post("/debtors/<external_id>/credits/<int:credit_id>/settle")
@idempotent
@blp.doc(parameters=[KEY_DOC])
@blp.arguments(schemas.CreditSettleIn())
@blp.response(200, schemas.CreditSettleOut)
def settle(data: dict[str, Any], external_id: str, credit_id: int) -> Any:
    """Settle a kept credit once: paid back, or set off against an open case of the debtor
    (booked as its `payment_received` `credit:<id>`; at most what the case owes, the rest kept).

    The same settlement again answers `replayed: true`; another one for a credit settled
    already answers 409.
    """
    info = token()
    settlement = Settlement(
        data["how"],
        paid_on=data.get("paid_on"),
        case_ref=data.get("case"),
        reference=data["reference"],
        note=data["note"],
    )
    actor = CreditActor(f"api:{info.name}"[:254], None, "api")
    try:
        with write_transaction() as session:
            row = _debtor_row(session, external_id)
            done = settle_credit(session, row.id, credit_id, settlement, actor, now())
            entries = {e.row.id: e for e in credit_history(session, row.id)}
            rest = entries.get(done.rest_id) if done.rest_id is not None else None
            return {
                "credit": credit_out(entries[done.credit_id]),
                "rest": credit_out(rest) if rest is not None else None,
                "event_id": done.event_id,
                "replayed": done.replayed,
            }
    except CreditRefused as exc:
        if exc.field == "credit" and exc.reason == "unknown":
            abort(404, message=f"The debtor has no credit {credit_id}.", kind="unknown-credit")
        if exc.field == "credit":
            abort(409, message=f"The credit is {exc.limit} already.", kind="credit-settled")
        words = REFUSALS.get(exc.reason, exc.reason).format(limit=exc.limit)
        abort(422, message=words, errors={exc.field: [words]})
