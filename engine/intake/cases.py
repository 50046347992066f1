"""Opening cases: the case schema shared by CSV import, the API and the demo portfolio."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.numbers import list_currencies
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.core.case_status import due_now
from engine.core.clock import naive_utc
from engine.core.inputs import HAS_NUL, NOT_UNICODE, TOO_DEEP, storable_errors
from engine.core.jurisdictions import case_locale, case_time_zone
from engine.core.messages import Joined, Message, Text, from_english, msg
from engine.intake.debtor_merge import holds_for_new_cases
from engine.intake.debtors import DEBTOR_ID, DebtorSchema, normal_phone, resolve_debtors
from engine.storage.audit_chain import chain_dicts
from engine.storage.db import in_chunks
from engine.storage.models import AuditRow, CaseRow, VersionRow

_AUDIT_CHUNK = 10_000  # external ids per INSERT ... SELECT (SQLite binds at most 32,766)
CURRENCIES = frozenset(list_currencies())  # ISO 4217 codes, as Babel knows them
# Due dates a dunning journey can work with (date arithmetic on 9999-12-31 overflows).
DUE_DATE_MIN, DUE_DATE_MAX = date(1900, 1, 1), date(2199, 12, 31)
ID_HAS_SLASH = msg("An id cannot contain '/'.")
NOT_A_CURRENCY = msg("Not an ISO 4217 currency code, e.g. EUR.")
DUE_DATE_RANGE = msg("Use a due date from {min} to {max}.")
# CaseSchema's words the catalog knows. marshmallow hands them on in English, which is what the
# API answers; `case_words` reads them back for the designer to show in its language.
CASE_WORDS: tuple[Message, ...] = (
    ID_HAS_SLASH,
    NOT_A_CURRENCY,
    DUE_DATE_RANGE,
    HAS_NUL,
    NOT_UNICODE,
    TOO_DEEP,
)


def _cents(value: Decimal) -> None:
    """Refuse amounts with fractions of a cent instead of rounding them silently."""
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValidationError("Use at most two decimal places.")


class CaseSchema(Schema):
    """A case as host systems and CSV files hand it over."""

    external_id = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=100),
            # A '/' cannot be addressed as /cases/{external_id}: refused, not stored unreachable.
            validate.Regexp(r"^[^/]*$", error=ID_HAS_SLASH.id),
        ],
    )
    debtor_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    debtor_type = fields.String(
        load_default="consumer", validate=validate.OneOf(("consumer", "business"))
    )
    email = fields.Email(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, allow_none=True)
    street = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    postcode = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))
    city = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    country = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{2}$", error="Use a two-letter country code, e.g. DE."),
    )
    subdivision = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=8))
    locale = fields.String(load_default=None, allow_none=True)
    timezone = fields.String(load_default=None, allow_none=True)
    currency = fields.String(
        required=True,
        validate=[
            validate.Regexp(r"^[A-Z]{3}$", error="Use a three-letter currency, e.g. EUR."),
            validate.OneOf(CURRENCIES, error=NOT_A_CURRENCY.id),
        ],
    )
    amount = fields.Decimal(
        required=True,
        validate=[validate.Range(min=0, min_inclusive=False, max=10**11), _cents],
    )
    amount_open = fields.Decimal(
        load_default=None,
        allow_none=True,
        validate=[
            validate.Range(min=0, min_inclusive=False, error="Nothing is open: nothing to dun."),
            _cents,
        ],
    )
    due_date = fields.Date(
        required=True,
        validate=validate.Range(DUE_DATE_MIN, DUE_DATE_MAX, error=DUE_DATE_RANGE.id),
    )
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    attributes = fields.Dict(keys=fields.String(), load_default=dict)
    # The person owing the case: the host's customer id, and/or the debtor's data (with the
    # same id in `debtor.external_id`). Neither: the case is its own person.
    debtor_id = fields.String(load_default=None, allow_none=True, validate=DEBTOR_ID)
    debtor = fields.Nested(DebtorSchema, load_default=None, allow_none=True)

    @validates("timezone")
    def _zone(self, value: str | None, **_: Any) -> None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValidationError(f"Unknown time zone '{value}'.") from exc

    @validates_schema(skip_on_field_errors=False)
    def _storable_text(self, data: dict[str, Any], **_: Any) -> None:
        """No lone surrogate, no NUL (PostgreSQL text cannot hold it): named by field."""
        errors = storable_errors(data)
        if errors:
            raise ValidationError(errors)

    # Run even when other fields failed, so one round of errors shows every problem.
    @validates_schema(skip_on_field_errors=False)
    def _phone_and_amounts(self, data: dict[str, Any], **_: Any) -> None:
        phone = data.get("phone")
        if phone and data.get("country"):
            try:
                parsed = phonenumbers.parse(phone, data.get("country"))
            except phonenumbers.NumberParseException as exc:
                raise ValidationError("Not a phone number.", "phone") from exc
            if not phonenumbers.is_valid_number(parsed):
                raise ValidationError("Not a valid phone number for the country.", "phone")
            data["phone"] = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        nested = data.get("debtor") or {}
        if nested.get("phone") and data.get("country"):
            try:
                nested["phone"] = normal_phone(nested["phone"], data["country"])
            except ValidationError as exc:
                raise ValidationError({"debtor": {"phone": exc.messages}}) from exc
        if data.get("debtor") is not None:
            named = nested.get("external_id")
            if not named and not data.get("debtor_id"):
                raise ValidationError(
                    "Name the debtor's customer id (debtor.external_id or debtor_id).", "debtor"
                )
            if named and data.get("debtor_id") and named != data["debtor_id"]:
                raise ValidationError(
                    f"debtor_id '{data['debtor_id']}' and debtor.external_id '{named}' differ.",
                    "debtor_id",
                )
        open_ = data.get("amount_open")
        if open_ is not None and data.get("amount") is not None and open_ > data["amount"]:
            raise ValidationError("The open amount is larger than the amount.", "amount_open")


def case_words(english: str) -> Text:
    """A CaseSchema error in the catalog's words where it knows them; several errors of one
    cell, as the importer joins them with spaces, each on its own."""
    whole = from_english(english, CASE_WORDS)
    pieces = re.split(r"(?<=\.) ", english)
    if isinstance(whole, Message) or len(pieces) == 1:
        return whole
    parts: list[Text] = []
    start = 0
    while start < len(pieces):  # the longest run of sentences that is one known text
        for end in range(len(pieces), start, -1):
            found = from_english(" ".join(pieces[start:end]), CASE_WORDS)
            if isinstance(found, Message) or end == start + 1:
                parts.append(found)
                start = end
                break
    return Joined(tuple(parts), " ")


def case_values(data: dict[str, Any], version: VersionRow, now: datetime) -> dict[str, Any]:
    """Column values for a new case at the start of a version (data already loaded)."""
    start = next(n["id"] for n in version.document["nodes"] if n["type"] == "start")
    country = data["country"]
    amount = Decimal(data["amount"])
    return {
        "external_id": data["external_id"],
        "version_id": version.id,
        "node_id": start,
        "status": "active",
        "due_at": due_now(now),
        "debtor_name": data["debtor_name"],
        "debtor_type": data.get("debtor_type") or "consumer",
        "email": data.get("email"),
        "phone": data.get("phone"),
        "street": data.get("street"),
        "postcode": data.get("postcode"),
        "city": data.get("city"),
        "country": country,
        "subdivision": data.get("subdivision"),
        "locale": data.get("locale") or case_locale(country),
        "timezone": data.get("timezone") or case_time_zone(country),
        "currency": data["currency"],
        "amount_original": amount,
        "amount_open": data.get("amount_open") if data.get("amount_open") is not None else amount,
        "due_date": data["due_date"],
        "reference": data.get("reference"),
        "attributes": data.get("attributes") or {},
        "arms": {},
        "contact_prefs": data.get("contact_prefs") or {},
        "debtor_id": data.get("debtor_row_id"),
        "messages_sent": 0,
        "payments_count": 0,
        "visits": 0,
        "created_at": naive_utc(now),
        "updated_at": naive_utc(now),
    }


def open_case(
    session: Session,
    raw: dict[str, Any],
    version: VersionRow,
    now: datetime,
    source: str = "api",
) -> tuple[CaseRow, bool]:
    """Open a case (idempotent by external id); returns (row, created)."""
    data = CaseSchema().load(raw)
    existing = session.scalar(select(CaseRow).where(CaseRow.external_id == data["external_id"]))
    if existing is not None:
        return existing, False
    resolve_debtors(session, [data], now, source)
    row = CaseRow(**case_values(data, version, now))
    session.add(row)
    session.flush()
    audit_opened(session, [row.external_id], now, source)
    return row, True


def audit_opened(session: Session, external_ids: Sequence[str], now: datetime, source: str) -> None:
    """The first audit row of newly inserted cases: opened, on which version and from where.

    One SELECT of the new cases and one INSERT per chunk, so bulk imports need not know the
    new row ids; each row starts its case's hash chain (engine/storage/audit_chain.py).
    A new case of a debtor under a hold on the person takes the hold (`holds_for_new_cases`).
    """
    stamp = naive_utc(now)
    for chunk in in_chunks(external_ids, _AUDIT_CHUNK):
        opened = session.execute(
            select(CaseRow.id, CaseRow.version_id, CaseRow.node_id)
            .where(CaseRow.external_id.in_(chunk))
            .order_by(CaseRow.id)
        ).all()
        rows = [
            {
                "at": stamp,
                "case_id": case_id,
                "version_id": version_id,
                "node_id": node_id,
                "kind": "opened",
                "rule": None,
                "detail": {"source": source},
            }
            for case_id, version_id, node_id in opened
        ]
        if rows:
            session.execute(insert(AuditRow), chain_dicts(session, rows))
        holds_for_new_cases(session, chunk, now)
