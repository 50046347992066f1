"""The API's request and response schemas, built on the engine's own (CaseSchema, payloads)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine import (
    EVENT_ID_LENGTH,
    MAX_BULK,
    MAX_BULK_EVENTS,
    STATUSES,
    CaseSchema,
    EventItemSchema,
    as_utc,
    public_delivery_error,
)
from engine import event_types as _event_types

EVENT_TYPES = _event_types.ALL
CASE_STATUSES = STATUSES


class UtcDateTime(fields.DateTime):
    """A date-time written with its UTC offset (the database keeps naive UTC)."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kw: Any) -> Any:
        return None if value is None else super()._serialize(as_utc(value), attr, obj, **kw)


def items_ref(self: Any, field: fields.Field, **_: Any) -> dict[str, Any]:
    """apispec attribute function: a list documented with items of a named schema."""
    name = field.metadata.get("items_schema")
    return {"items": {"$ref": f"#/components/schemas/{name}"}} if name else {}


def decimal_bounds(self: Any, field: fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """apispec attribute function: decimal bounds as numbers; decimals written as strings."""
    if not isinstance(field, fields.Decimal):
        return {}
    if field.as_string:
        return {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$"}
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    return {k: float(ret[k]) for k in keys if isinstance(ret.get(k), str | Decimal)}


def _nullable(field: fields.Field) -> fields.Field:
    field.allow_none = True
    return field


# -- requests -----------------------------------------------------------------------------------


class CaseIn(CaseSchema):
    """A case to create or update, optionally naming the journey it starts on."""

    journey = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Key of a published journey (needed when there are several)."},
    )


class CasePut(CaseIn):
    """A case to create or update at its own URL; external_id may be left out."""

    external_id = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class BulkIn(Schema):
    """Up to 10,000 cases; each is validated on its own and gets its own result."""

    journey = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    cases = fields.List(
        fields.Raw(),
        required=True,
        metadata={"items_schema": "CaseIn"},
        validate=validate.Length(min=1, max=MAX_BULK),
    )


class ListArgs(Schema):
    """Filters and cursor pagination for the case list."""

    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    journey = fields.String(validate=validate.Length(1, 64))
    node = fields.String(validate=validate.Length(1, 64))
    updated_since = fields.AwareDateTime(default_timezone=None)
    cursor = fields.String(validate=validate.Length(1, 40))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class PageArgs(Schema):
    """Cursor pagination."""

    cursor = fields.String(validate=validate.Length(1, 40))
    limit = fields.Integer(load_default=200, validate=validate.Range(1, 1000))


class EventIn(Schema):
    """An event for a case; its payload depends on the type (see the API guide)."""

    event_id = fields.String(
        required=True,
        validate=EVENT_ID_LENGTH,
        metadata={"description": "The host's id of the event; a repeat is stored once."},
    )
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    occurred_at = fields.AwareDateTime(load_default=None, allow_none=True)


class EventItemIn(EventItemSchema):
    """One event of a bulk request: an event as for a single case, and the case it is for."""


class BulkEventsIn(Schema):
    """Up to 10,000 events for any cases; each is validated on its own and gets its own result."""

    events = fields.List(
        fields.Raw(),
        required=True,
        metadata={"items_schema": "EventItemIn"},
        validate=validate.Length(min=1, max=MAX_BULK_EVENTS),
    )


class CloseIn(Schema):
    """Close or cancel a case."""

    reason = fields.String(load_default="closed", validate=validate.OneOf(("closed", "cancelled")))
    note = fields.String(load_default="", validate=validate.Length(max=500))
    event_id = fields.String(load_default=None, validate=EVENT_ID_LENGTH)


class AssignIn(Schema):
    """The journey a case that has not started yet should run."""

    journey = fields.String(required=True, validate=validate.Length(1, 64))


class SimulationIn(Schema):
    """A small, bounded simulation of a journey version."""

    version = fields.Integer(load_default=None, validate=validate.Range(1, 1_000_000))
    cases = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    days = fields.Integer(load_default=30, validate=validate.Range(1, 180))
    seed = fields.Integer(load_default=1, validate=validate.Range(0, 2**31 - 1))
    consent = fields.Dict(
        keys=fields.String(validate=validate.OneOf(("email", "sms", "letter", "whatsapp"))),
        values=fields.Float(validate=validate.Range(0, 1)),
        load_default=None,
        metadata={
            "description": "Share of debtors with explicit consent per channel, 0 to 1 "
            "(default: sms 0.6, whatsapp 0.4); a channel that needs consent (SMS in the US) "
            "goes out only to them."
        },
    )


# -- responses ----------------------------------------------------------------------------------


class OwedOut(Schema):
    """What a case owes today: principal, fees, interest (booked and accrued) and the total."""

    principal = fields.Decimal(as_string=True)
    fees = fields.Decimal(as_string=True)
    interest = fields.Decimal(as_string=True)
    total_due = fields.Decimal(as_string=True)
    interest_rate = _nullable(fields.Decimal(as_string=True))
    currency = fields.String()
    on = fields.Date()


class CaseOut(Schema):
    """A case and where it stands."""

    external_id = fields.String()
    journey = fields.String()
    version = fields.Integer()
    node = fields.String()
    status = fields.String()
    outcome = _nullable(fields.String())
    hold_reason = _nullable(fields.String())
    # The held case's last day on hold (its hold event's `until`): released on that day in the
    # case's time zone (docs/api.md, "Events"); null without one.
    hold_until = _nullable(fields.Date())
    # The debtor's customer id; null when the case is its own person (engine/intake/debtors.py).
    debtor = _nullable(fields.String())
    debtor_name = fields.String()
    debtor_type = fields.String()
    email = _nullable(fields.String())
    phone = _nullable(fields.String())
    street = _nullable(fields.String())
    postcode = _nullable(fields.String())
    city = _nullable(fields.String())
    country = fields.String()
    subdivision = _nullable(fields.String())
    locale = fields.String()
    timezone = fields.String()
    currency = fields.String()
    amount = fields.Decimal(as_string=True)
    amount_open = fields.Decimal(as_string=True)
    due_date = fields.Date()
    reference = _nullable(fields.String())
    attributes = fields.Dict()
    promise_date = _nullable(fields.Date())
    promise_amount = _nullable(fields.Decimal(as_string=True))
    next_action_at = _nullable(UtcDateTime())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    closed_at = _nullable(UtcDateTime())
    owed = fields.Nested(OwedOut, metadata={"description": "Only on GET /cases/{external_id}."})


class DebtorPatch(Schema):
    """A change of a debtor's data: any of these fields (validated by the engine's schema)."""

    class Meta:
        unknown = "raise"

    name = fields.String()
    email = _nullable(fields.String())
    phone = _nullable(fields.String())
    street = _nullable(fields.String())
    postcode = _nullable(fields.String())
    city = _nullable(fields.String())
    locale = fields.String()
    timezone = fields.String()
    consent = fields.Dict(keys=fields.String(), values=fields.Boolean())
    opted_out = fields.List(fields.String())


class DebtorCaseOut(Schema):
    """One case of a debtor."""

    external_id = fields.String()
    status = fields.String()
    amount_open = fields.Decimal(as_string=True)


class DebtorCreditOut(Schema):
    """A credit kept for a debtor: the amount beyond their debts, in one currency."""

    amount = fields.Decimal(as_string=True)
    currency = fields.String()


class DebtorCreditItemOut(Schema):
    """One credit of a debtor with its state and how it was settled (null while kept)."""

    id = fields.Integer()
    amount = fields.Decimal(as_string=True)
    currency = fields.String()
    state = fields.String(metadata={"enum": ["kept", "paid_back", "set_off", "charged_back"]})
    created_at = UtcDateTime()
    from_case = _nullable(fields.String())  # the case whose payment brought it
    rest_of = _nullable(fields.Integer())  # the credit this one is the rest of (a set-off's)
    settled_amount = _nullable(fields.Decimal(as_string=True))
    settled_on = _nullable(fields.Date())
    settled_at = _nullable(UtcDateTime())
    settled_by = _nullable(fields.String())
    set_off_case = _nullable(fields.String())
    reference = _nullable(fields.String())
    note = _nullable(fields.String())


class DebtorCreditsOut(Schema):
    """Every credit of a debtor, newest first."""

    credits = fields.List(fields.Nested(DebtorCreditItemOut))


class CreditSettleIn(Schema):
    """Settle a kept credit once: `paid_back` on `paid_on` (with an optional `reference` and
    `note`), or `set_off` against `case`, an open case of the same debtor and currency."""

    class Meta:
        unknown = "raise"

    how = fields.String(required=True, validate=validate.OneOf(("paid_back", "set_off")))
    paid_on = fields.Date()
    case = fields.String(validate=validate.Length(min=1, max=100))
    reference = fields.String(load_default="", validate=validate.Length(max=100))
    note = fields.String(load_default="", validate=validate.Length(max=1000))

    @validates_schema
    def _needs(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("how") == "paid_back" and data.get("paid_on") is None:
            raise ValidationError({"paid_on": ["Required to record a credit as paid back."]})
        if data.get("how") == "set_off" and not data.get("case"):
            raise ValidationError({"case": ["Required to set a credit off against a case."]})


class CreditSettleOut(Schema):
    """What a settlement did: the credit, the rest kept (a set-off larger than the case owed),
    the booked payment's event id, and `replayed` for the same settlement asked again."""

    credit = fields.Nested(DebtorCreditItemOut)
    rest = _nullable(fields.Nested(DebtorCreditItemOut))
    event_id = _nullable(fields.String())
    replayed = fields.Boolean()


class DebtorOut(Schema):
    """A debtor: the host's customer id, contact data, choices, and their cases."""

    external_id = fields.String()
    name = fields.String()
    email = _nullable(fields.String())
    phone = _nullable(fields.String())
    street = _nullable(fields.String())
    postcode = _nullable(fields.String())
    city = _nullable(fields.String())
    country = fields.String()
    locale = fields.String()
    timezone = fields.String()
    consent = fields.Dict(keys=fields.String(), values=fields.Boolean())
    opted_out = fields.List(fields.String())
    cases = fields.List(fields.Nested(DebtorCaseOut))
    # The holds on the person in force (insolvency, deceased, breathing_space, cease_contact,
    # attorney), and the debtor this one was merged into (null: it stands for itself).
    holds = fields.List(fields.String())
    # What the person paid beyond their debts, kept per currency until staff pay it back.
    credits = fields.List(fields.Nested(DebtorCreditOut))
    merged_into = _nullable(fields.String())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class DebtorMergeIn(Schema):
    """Merge the debtor in the URL into another: the customer id of the debtor that stays."""

    class Meta:
        unknown = "raise"

    into = fields.String(required=True, validate=validate.Length(min=1, max=100))


class DebtorMergeOut(Schema):
    """What a merge did: the cases moved, the holds carried; `replayed` for a repeat."""

    debtor = fields.String()
    into = fields.String()
    cases = fields.List(fields.String())
    holds = fields.List(fields.String())
    replayed = fields.Boolean()


class DebtorEventIn(Schema):
    """An event about the person (insolvency, deceased, breathing space, cease-contact,
    attorney, and their ends), for every case of the debtor."""

    class Meta:
        unknown = "raise"

    event_id = fields.String(
        required=True,
        validate=EVENT_ID_LENGTH,
        metadata={"description": "The host's id of the event; a repeat is stored once."},
    )
    type = fields.String(required=True)
    payload = fields.Dict(keys=fields.String(), load_default=dict)
    occurred_at = fields.AwareDateTime(load_default=None, allow_none=True)


class DebtorEventOut(Schema):
    """The cases an event about the person was stored for (each applies it in the next tick)."""

    event_id = fields.String()
    type = fields.String()
    cases = fields.List(fields.String())


class CaseResultOut(Schema):
    """A case and what the request did to it."""

    result = fields.String(metadata={"description": "created, updated or unchanged"})
    case = fields.Nested(CaseOut)


class CasePageOut(Schema):
    """A page of cases."""

    items = fields.List(fields.Nested(CaseOut))
    next_cursor = _nullable(fields.String())


class ItemResultOut(Schema):
    """What happened to one case of a bulk request."""

    index = fields.Integer()
    external_id = _nullable(fields.String())
    status = fields.String(metadata={"description": "created, updated, unchanged or invalid"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BulkOut(Schema):
    """Per-item results and their counts."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    # The view hands over dicts shaped as ItemResultOut already; dumping 10,000 of them through
    # the nested schema again cost a tenth of a bulk request. Documented as ItemResultOut items.
    results = fields.List(fields.Raw(), metadata={"items_schema": "ItemResultOut"})


class AuditOut(Schema):
    """One row of a case's audit trail."""

    id = fields.Integer()
    at = UtcDateTime()
    kind = fields.String()
    node = _nullable(fields.String(attribute="node_id"))
    version_id = _nullable(fields.Integer())
    rule = _nullable(fields.String())
    detail = fields.Dict()


class TimelineOut(Schema):
    """A page of a case's audit trail."""

    items = fields.List(fields.Nested(AuditOut))
    next_cursor = _nullable(fields.String())


class ExplanationArgs(PageArgs):
    """Cursor pagination and the reader's language (else the Accept-Language header's)."""

    lang = fields.String(
        validate=validate.OneOf(("en", "de")),
        metadata={"description": "en or de; without it the Accept-Language header decides"},
    )


class ExplainedLinksOut(Schema):
    """Where a reviewer reads the rule: the designer's rules page of the version (same host)."""

    rule = _nullable(fields.String(metadata={"description": "the rule's sentence on that page"}))
    version = _nullable(fields.String(metadata={"description": "the version's rules page"}))


class ExplainedStepOut(Schema):
    """One step of a case in plain language: what happened and why."""

    id = fields.Integer(metadata={"description": "the audit row's id (as in the timeline)"})
    at = UtcDateTime()
    kind = fields.String()
    node = _nullable(fields.String())
    rule = _nullable(fields.String())
    journey = _nullable(fields.String())
    version = _nullable(fields.Integer())
    summary = fields.String()
    reasons = fields.List(fields.String())
    rule_sentence = _nullable(fields.String())
    links = fields.Nested(ExplainedLinksOut)


class ExplanationOut(Schema):
    """A page of a case's steps, explained in one language."""

    lang = fields.String()
    items = fields.List(fields.Nested(ExplainedStepOut))
    next_cursor = _nullable(fields.String())


class EventOut(Schema):
    """A stored event."""

    event_id = fields.String()
    case = fields.String()
    type = fields.String()
    payload = fields.Dict()
    occurred_at = UtcDateTime()
    received_at = UtcDateTime()
    applied_at = _nullable(UtcDateTime())
    replayed = fields.Boolean(metadata={"description": "True when the event id was seen before."})


class EventItemResultOut(Schema):
    """What happened to one event of a bulk request."""

    index = fields.Integer()
    event_id = _nullable(fields.String())
    case = _nullable(fields.String())
    status = fields.String(metadata={"description": "created, replayed or invalid"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class BulkEventsOut(Schema):
    """Per-event results and their counts."""

    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    # Plain dicts shaped as EventItemResultOut, as BulkOut's results (no second dump).
    results = fields.List(fields.Raw(), metadata={"items_schema": "EventItemResultOut"})


class MessageOut(Schema):
    """An outbox row: a message (or host notification) with its status and rendered content."""

    id = fields.Integer()
    channel = fields.String()
    node = fields.String(attribute="node_id")
    template = _nullable(fields.String())
    tone = _nullable(fields.Integer())
    status = fields.String()
    delivery_status = _nullable(fields.String())
    reason = _nullable(fields.String())
    recipient = _nullable(fields.String())
    subject = _nullable(fields.String())
    body = _nullable(fields.String())
    html = _nullable(fields.String())
    payload = _nullable(fields.Dict())
    attempts = fields.Integer()
    not_before = UtcDateTime()
    created_at = UtcDateTime()
    sent_at = _nullable(UtcDateTime())


class MessagesOut(Schema):
    """The messages of a case."""

    items = fields.List(fields.Nested(MessageOut))


class MessageArgs(Schema):
    """Filter messages by status."""

    status = fields.String(validate=validate.Length(1, 16))


class JourneyOut(Schema):
    """A journey with its newest version."""

    key = fields.String()
    name = fields.String()
    latest = fields.Integer()
    status = fields.String()
    versions = fields.Integer()
    cases_running = fields.Integer()
    updated_at = UtcDateTime()


class JourneysOut(Schema):
    """Every journey."""

    items = fields.List(fields.Nested(JourneyOut))


class VersionOut(Schema):
    """One version of a journey."""

    number = fields.Integer()
    status = fields.String()
    ruleset = fields.String()
    author = _nullable(fields.String())
    created_at = UtcDateTime()
    submitted_at = _nullable(UtcDateTime())
    published_at = _nullable(UtcDateTime())


class VersionsOut(Schema):
    """The versions of a journey, newest first."""

    items = fields.List(fields.Nested(VersionOut))


class FindingWordsOut(Schema):
    """A finding's words in one language."""

    message = fields.String(metadata={"description": "The whole finding in words."})
    reason = _nullable(
        fields.String(metadata={"description": "Why the rule fired; null but for a rule's."})
    )
    suggestion = _nullable(
        fields.String(metadata={"description": "What to write instead; null but for a rule's."})
    )


class FindingOut(Schema):
    """One compliance finding of a template variant (docs/compliance.md)."""

    rule = fields.String(metadata={"description": "The rule id, e.g. EN-TONE-ARREST."})
    severity = fields.String(metadata={"description": "BLOCK, HIGH or MED."})
    source = _nullable(fields.String(metadata={"description": "The legal source of the rule."}))
    message = fields.String(metadata={"description": "The finding in words (Accept-Language)."})
    reason = _nullable(
        fields.String(
            metadata={
                "description": "A wording finding's reason (Accept-Language); null for a "
                "finding about the whole text."
            }
        )
    )
    suggestion = _nullable(
        fields.String(
            metadata={"description": "A wording finding's suggestion (Accept-Language), or null."}
        )
    )
    translations = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(FindingWordsOut),
        metadata={
            "description": "message, reason and suggestion in every language: "
            '{"en": {...}, "de": {...}}, whatever the Accept-Language.'
        },
    )
    field = _nullable(
        fields.String(
            metadata={
                "description": "The part the words are in: subject or body; null for a finding "
                "about the whole text (its tone, its readability)."
            }
        )
    )
    start = _nullable(
        fields.Integer(metadata={"description": "Character offset of the words in the part."})
    )
    end = _nullable(fields.Integer(metadata={"description": "Offset after the words (exclusive)."}))
    text = _nullable(
        fields.String(metadata={"description": "The template's own characters [start, end)."})
    )


class VariantFindingsOut(Schema):
    """A template variant with its findings (an empty list when it is clean)."""

    template = fields.String()
    channel = fields.String()
    locale = fields.String()
    tone = fields.Integer()
    field = fields.String(metadata={"description": "e.g. templates.reminder.de-DE.tone1"})
    findings = fields.List(fields.Nested(FindingOut))


class FindingsOut(Schema):
    """The compliance findings of a version's template variants, in document order."""

    journey = fields.String()
    version = fields.Integer()
    items = fields.List(fields.Nested(VariantFindingsOut))


class SimulationOut(Schema):
    """Figures of a simulation run."""

    journey = fields.String()
    version = fields.Integer()
    cases = fields.Integer()
    days = fields.Integer()
    seed = fields.Integer()
    messages = fields.Dict(keys=fields.String(), values=fields.Integer())
    outcomes = fields.Dict(keys=fields.String(), values=fields.Integer())
    end_nodes = fields.Dict(keys=fields.String(), values=fields.Integer())
    suppressed = fields.Dict(keys=fields.String(), values=fields.Integer())
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Cases an engine error stopped, by error."},
    )
    failed = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Messages not sent (render failures, dead letters), by reason."},
    )
    collected = fields.String()
    open = fields.Integer()
    per_day = fields.List(fields.Dict())
    pre_due_days = fields.Integer(
        metadata={
            "description": "Days before their due date the synthetic cases start (the "
            "journey's earliest pre-due step, e.g. 5 for D-5; 0: they start overdue)."
        }
    )
    consented = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Synthetic debtors with explicit consent on record, by channel."},
    )
    experiments = fields.List(
        fields.Dict(),
        metadata={
            "description": "Per split step: the experiment, its verdict in words, the winner "
            "(null while undecided) and per arm the cases, paid rate, amount collected per case "
            "and total collected, scored on the simulated cases (docs/experiments.md)."
        },
    )
    render_errors = fields.List(
        fields.String(),
        metadata={
            "description": "Why messages could not be rendered, each reason once (at most 10), "
            "e.g. a template over its render budget; absent when every message rendered."
        },
    )


class SubscriptionIn(Schema):
    """A URL and the event types it wants."""

    url = fields.Url(required=True, schemes={"http", "https"}, require_tld=False)
    event_types = fields.List(
        fields.String(validate=validate.Regexp(r"^(\*|[a-z][a-z0-9_.]{0,63})$")),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "e.g. case.paid, message.sent, case.handover, or * for all."},
    )
    description = fields.String(load_default=None, validate=validate.Length(max=200))


class SubscriptionOut(Schema):
    """A subscription (the secret is shown only when it is created)."""

    id = fields.Integer()
    url = fields.String()
    event_types = fields.List(fields.String())
    active = fields.Boolean()
    description = _nullable(fields.String())
    created_at = UtcDateTime()
    secret = fields.String(metadata={"description": "Signing secret; only in the create answer."})


class SubscriptionsOut(Schema):
    """Every subscription."""

    items = fields.List(fields.Nested(SubscriptionOut))


class DeliveryArgs(Schema):
    """Filter the delivery log."""

    status = fields.String(validate=validate.OneOf(("pending", "delivered", "failed", "cancelled")))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class _DeliveryError(fields.String):
    """A stored delivery error as the log shows it: its category only."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return super()._serialize(public_delivery_error(value), attr, obj, **kwargs)


class DeliveryOut(Schema):
    """One webhook delivery and its last attempt."""

    id = fields.Integer()
    event_type = fields.String()
    event_key = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime()
    last_status_code = _nullable(fields.Integer())
    # A category ("timeout", "connection failed", "HTTP 503"), never a raw connection error.
    last_error = _nullable(_DeliveryError())
    body = fields.String()
    created_at = UtcDateTime()
    delivered_at = _nullable(UtcDateTime())


class DeliveriesOut(Schema):
    """A subscription's delivery log, newest first."""

    items = fields.List(fields.Nested(DeliveryOut))


# -- the journey lifecycle ------------------------------------------------------------------------


class NoteIn(Schema):
    """Why: kept in the version's history."""

    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ReviewIn(NoteIn):
    """A reviewer's decision relayed by an operator's token: the reviewer account it is for."""

    reviewer = fields.Email(
        required=True,
        metadata={"description": "Email of a designer account with the reviewer role."},
    )
    content_hash = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[0-9a-f]{64}$"),
        metadata={"description": "The content hash reviewed; refused when the version's differs."},
    )


class ChangesIn(Schema):
    """A reviewer's request for changes: what should change."""

    reviewer = fields.Email(required=True)
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class PublishIn(NoteIn):
    """Publish now or at a time; move running cases or let them stay."""

    at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        metadata={"description": "Publish at this time (the scheduler's tick does); default now."},
    )
    move_running = fields.Boolean(
        load_default=False,
        metadata={"description": "Move running cases whose step exists in the new version."},
    )


class LifecycleVersionOut(Schema):
    """A version after a lifecycle step."""

    journey = fields.String()
    number = fields.Integer()
    status = fields.String()
    approvals = fields.Integer()
    approvals_required = fields.Integer()
    content_hash = _nullable(fields.String())
    approved_hash = _nullable(fields.String())
    publish_at = _nullable(UtcDateTime())


class NodeCasesOut(Schema):
    """Running cases of an older version at one step."""

    version = fields.Integer()
    node = fields.String()
    type = fields.String()
    cases = fields.Integer()
    movable = fields.Boolean()
    text = fields.String(metadata={"description": "The line of the publish dialog."})


class PreviewOut(Schema):
    """What publishing would do to running cases."""

    journey = fields.String()
    version = fields.Integer()
    movable = fields.Integer()
    staying = fields.Integer()
    nodes = fields.List(fields.Nested(NodeCasesOut))


class PublishOut(Schema):
    """What a publish did, or when it will happen."""

    journey = fields.String()
    version = fields.Integer()
    scheduled_for = _nullable(UtcDateTime())
    superseded = fields.List(fields.Integer())
    moved = fields.Integer()
    staying = fields.Integer()
    stayed = fields.List(fields.Nested(NodeCasesOut))


class JourneyStateOut(Schema):
    """A journey's state after pause, unpause or retire."""

    journey = fields.String()
    state = fields.String(metadata={"description": "draft, live, paused or retired."})


class HistoryEntryOut(Schema):
    """One step of a version's history."""

    version = _nullable(fields.Integer())
    action = fields.String()
    actor = fields.String()
    actor_role = fields.String()
    at = UtcDateTime()
    note = _nullable(fields.String())
    anchor = _nullable(fields.String())
    content_hash = _nullable(fields.String())
    detail = fields.Dict()


class HistoryOut(Schema):
    """A version's history, oldest first."""

    items = fields.List(fields.Nested(HistoryEntryOut))


class DocumentOut(Schema):
    """A file stored with a case (the invoice PDF) and what the request did."""

    case = fields.String(metadata={"description": "The case's external id."})
    kind = fields.String(metadata={"description": "invoice"})
    filename = fields.String(metadata={"description": "The name the email attachment gets."})
    bytes = fields.Integer()
    sha256 = fields.String()
    stored_at = UtcDateTime()
    result = fields.String(metadata={"description": "created, replaced or unchanged"})
