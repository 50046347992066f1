"""Debtors: the person owing one or more cases, named by the host's customer id.

A case may name its debtor (`debtor_id`, the host's customer id, and/or a `debtor` object with
the debtor's data); a case naming none is its own person, as before debtors existed, and none
of this code runs for it. The debtor row holds the contact data, consent and preferences; every
case keeps a copy of the contact columns because the runtime reads and owns them while it
advances the case (engine/run/store.py), so the tick's fast path reads no second table.

A change of the debtor's data (an API update of the debtor, or a newer case or import naming
the same debtor with different data: the newer wins) is written on the debtor row with a
`debtor_changed` audit row, and reaches every open case of the debtor: name, locale, time zone
and region in one UPDATE of the cases; contact data, consent and opt-outs as one event per case
(`contact_changed`, `consent_changed`, `opted_out`), the same way a host's update of a running
case sends them, so the runtime applies them between steps and each case's audit trail shows
the change.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.core.case_status import OPEN_STATUSES
from engine.core.clock import naive_utc
from engine.core.inputs import storable_errors
from engine.core.jurisdictions import case_locale, case_time_zone
from engine.intake.events import record_event
from engine.journey.document import channel_choice
from engine.storage.models import AuditRow, CaseRow, DebtorRow

# A customer id: the same rules as a case's external id (it is addressed as /debtors/{id}).
DEBTOR_ID = [
    validate.Length(min=1, max=100),
    validate.Regexp(r"^[^/]*$", error="An id cannot contain '/'."),
]
CONTACT = ("email", "phone", "street", "postcode", "city")
# Debtor data copied onto the debtor's open cases with one UPDATE (the runtime never writes
# these columns): debtor column -> case column.
MASTER = {"name": "debtor_name", "locale": "locale", "timezone": "timezone"}
# What a case's own fields say about its debtor, when it names one: case field -> debtor field.
FROM_CASE = {
    "debtor_name": "name",
    **{name: name for name in CONTACT},
    "locale": "locale",
    "timezone": "timezone",
}


class DebtorSchema(Schema):
    """A debtor as the API takes it inside a case (`debtor`) or on its own (PATCH /debtors)."""

    external_id = fields.String(validate=DEBTOR_ID)
    name = fields.String(validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))
    street = fields.String(allow_none=True, validate=validate.Length(max=200))
    postcode = fields.String(allow_none=True, validate=validate.Length(max=16))
    city = fields.String(allow_none=True, validate=validate.Length(max=100))
    locale = fields.String(validate=validate.Length(min=2, max=16))
    timezone = fields.String()
    # The debtor's choices: consent per channel, channels they opted out of.
    consent = fields.Dict(keys=fields.String(validate=channel_choice()), values=fields.Boolean())
    opted_out = fields.List(fields.String(validate=channel_choice()))

    @validates("timezone")
    def _zone(self, value: str, **_: Any) -> None:
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


def normal_phone(phone: str, country: str) -> str:
    """A phone number in E.164 for the debtor's country; ValidationError naming the problem."""
    try:
        parsed = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError("Not a phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("Not a valid phone number for the country.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def debtor_key(data: dict[str, Any]) -> str | None:
    """The customer id a loaded case names (`debtor_id` or `debtor.external_id`), or None."""
    nested = data.get("debtor") or {}
    return data.get("debtor_id") or nested.get("external_id")


def resolve_debtors(
    session: Session, datas: Sequence[dict[str, Any]], now: datetime, source: str
) -> None:
    """Find or create the debtor each loaded case names, newest data winning; fill the case.

    Each case naming a debtor gets `debtor_row_id` (the debtor's row id, for `case_values`)
    and the debtor's contact data, locale, time zone and preferences in its own fields. The
    cases are taken in order, so within one request or file a later row is the newer one.
    Cases naming no debtor are left as they are, and cost nothing here.
    """
    named = [data for data in datas if debtor_key(data)]
    if not named:
        return
    keys = {debtor_key(data) for data in named}
    rows = {
        row.external_id: row
        for row in session.scalars(select(DebtorRow).where(DebtorRow.external_id.in_(keys)))
    }
    batch = {data["external_id"] for data in datas}
    for data in named:
        key = debtor_key(data)
        assert key is not None
        given = _given(data)
        row = rows.get(key)
        if row is not None and row.merged_into_id is not None:  # merged: the one that stays
            row = follow_merges(session, row) or row
        if row is None:
            row = _create(session, key, data, given, now, source)
            rows[key] = row
        else:
            change_debtor(session, row, given, now, source, skip_cases=batch)
        data["debtor_row_id"] = row.id
        _fill_case(data, row)


def change_debtor(
    session: Session,
    row: DebtorRow,
    given: dict[str, Any],
    now: datetime,
    source: str,
    skip_cases: Iterable[str] = (),
) -> list[str]:
    """Write what differs on the debtor, audited, and carry it to their open cases.

    `given` holds debtor fields (as DebtorSchema loads them, phone already normal); returns
    the names of the fields that changed. Cases named in `skip_cases` are being written by the
    caller with the new data already.
    """
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("consent", "opted_out", "external_id"):
            continue
        if getattr(row, name) != value:
            changes[name] = value
    prefs = dict(row.contact_prefs or {})
    consent_before = dict(prefs.get("consent", {}))
    consent = {**consent_before, **given.get("consent", {})}
    new_consent = {ch: ok for ch, ok in consent.items() if consent_before.get(ch) is not ok}
    opted_before = list(prefs.get("opted_out", []))
    new_opt_outs = sorted(set(given.get("opted_out", [])) - set(opted_before))
    if not changes and not new_consent and not new_opt_outs:
        return []
    before = {name: getattr(row, name) for name in changes}
    for name, value in changes.items():
        setattr(row, name, value)
    if new_consent or new_opt_outs:
        row.contact_prefs = {
            **prefs,
            "consent": consent,
            "opted_out": sorted({*opted_before, *new_opt_outs}),
        }
    row.updated_at = naive_utc(now)
    changed = sorted(changes) + (["consent"] if new_consent else [])
    changed += ["opted_out"] if new_opt_outs else []
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=None,
            kind="debtor_changed",
            detail={
                "debtor": row.external_id,
                "source": source,
                "changed": changed,
                "before": {k: v for k, v in before.items() if k not in CONTACT},
            },
        )
    )
    session.flush()
    _carry(session, row, changes, new_consent, new_opt_outs, now, set(skip_cases))
    return changed


def debtor_cases(session: Session, debtor_id: int) -> list[CaseRow]:
    """Every case of a debtor, oldest first."""
    return list(
        session.scalars(select(CaseRow).where(CaseRow.debtor_id == debtor_id).order_by(CaseRow.id))
    )


def _given(data: dict[str, Any]) -> dict[str, Any]:
    """The debtor data a loaded case carries: its own fields, then its `debtor` object's."""
    given = {
        debtor_field: data[case_field]
        for case_field, debtor_field in FROM_CASE.items()
        if data.get(case_field) is not None
    }
    nested = dict(data.get("debtor") or {})
    nested.pop("external_id", None)
    if nested.get("phone"):
        try:
            nested["phone"] = normal_phone(nested["phone"], data["country"])
        except ValidationError as exc:
            raise ValidationError({"debtor": {"phone": exc.messages}}) from exc
    given.update(nested)
    return given


def _create(
    session: Session,
    key: str,
    data: dict[str, Any],
    given: dict[str, Any],
    now: datetime,
    source: str,
) -> DebtorRow:
    country = data["country"]
    prefs: dict[str, Any] = {}
    if given.get("consent"):
        prefs["consent"] = dict(given["consent"])
    if given.get("opted_out"):
        prefs["opted_out"] = sorted(set(given["opted_out"]))
    row = DebtorRow(
        external_id=key,
        name=given.get("name") or data["debtor_name"],
        email=given.get("email"),
        phone=given.get("phone"),
        street=given.get("street"),
        postcode=given.get("postcode"),
        city=given.get("city"),
        country=country,
        subdivision=data.get("subdivision"),
        locale=given.get("locale") or case_locale(country),
        timezone=given.get("timezone") or case_time_zone(country),
        contact_prefs=prefs,
        created_at=naive_utc(now),
        updated_at=naive_utc(now),
    )
    session.add(row)
    session.flush()
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=None,
            kind="debtor_created",
            detail={"debtor": key, "source": source},
        )
    )
    return row


def _fill_case(data: dict[str, Any], row: DebtorRow) -> None:
    """The case's copy of its debtor's data (what the runtime and dispatcher read)."""
    data["debtor_name"] = row.name
    for name in CONTACT:
        data[name] = getattr(row, name)
    data["locale"], data["timezone"] = row.locale, row.timezone
    data["contact_prefs"] = dict(row.contact_prefs or {})


def _carry(
    session: Session,
    row: DebtorRow,
    changes: dict[str, Any],
    consent: dict[str, bool],
    opt_outs: list[str],
    now: datetime,
    skip: set[str],
) -> None:
    """Bring a debtor's change to each of their open cases (but those in `skip`)."""
    cases = [
        (case_id, external_id)
        for case_id, external_id in session.execute(
            select(CaseRow.id, CaseRow.external_id).where(
                CaseRow.debtor_id == row.id, CaseRow.status.in_(OPEN_STATUSES)
            )
        )
        if external_id not in skip
    ]
    if not cases:
        return
    master = {MASTER[name]: value for name, value in changes.items() if name in MASTER}
    if master:
        session.execute(
            update(CaseRow)
            .where(CaseRow.id.in_([case_id for case_id, _ in cases]))
            .values(**master, updated_at=naive_utc(now))
        )
    events: list[tuple[str, dict[str, Any]]] = []
    contact = {name: value for name, value in changes.items() if name in CONTACT}
    if contact:
        events.append(("contact_changed", contact))
    events += [("consent_changed", {"channel": ch, "granted": ok}) for ch, ok in consent.items()]
    events += [("opted_out", {"channel": channel}) for channel in opt_outs]
    stamp = naive_utc(now).isoformat()
    for kind, payload in events:
        digest = hashlib.sha256(
            json.dumps([kind, payload, stamp], sort_keys=True, default=str).encode()
        ).hexdigest()[:20]
        for case_id, external_id in cases:
            event_id = f"debtor-{row.id}-{case_id}-{digest}"
            record_event(session, external_id, event_id, kind, payload, now)


# How far a chain of merges is followed (A into B, B into C ...): merges refuse cycles.
MAX_CHAIN = 64


def follow_merges(session: Session, row: DebtorRow) -> DebtorRow | None:
    """The debtor a row stands for now: itself, or where its merges lead (None: a cycle)."""
    seen = {row.id}
    while row.merged_into_id is not None:
        found = session.get(DebtorRow, row.merged_into_id)
        if found is None or found.id in seen or len(seen) > MAX_CHAIN:
            return None
        row = found
        seen.add(row.id)
    return row


class UnknownDebtor(LookupError):
    """No debtor has this customer id."""


def get_debtor(session: Session, external_id: str) -> DebtorRow | None:
    """The debtor with this customer id, or None."""
    return session.scalar(select(DebtorRow).where(DebtorRow.external_id == external_id))


def update_debtor(
    session: Session, external_id: str, raw: dict[str, Any], now: datetime, source: str = "api"
) -> tuple[DebtorRow, list[str]]:
    """Change a debtor's data (DebtorSchema, every field optional); returns (row, changed).

    The change is audited and reaches every open case of the debtor (see `change_debtor`).
    UnknownDebtor when there is none; ValidationError naming the field for bad data.
    """
    data = DebtorSchema().load(raw)
    if data.get("external_id") not in (None, external_id):
        raise ValidationError({"external_id": ["Differs from the debtor's id in the URL."]})
    row = get_debtor(session, external_id)
    if row is None:
        raise UnknownDebtor(f"There is no debtor with the id '{external_id}'.")
    if data.get("phone"):
        try:
            data["phone"] = normal_phone(data["phone"], row.country)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    return row, change_debtor(session, row, data, now, source)
