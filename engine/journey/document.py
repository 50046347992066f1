"""The journey document: one JSON document per journey version, and its schemas."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, get_args

from marshmallow import Schema, ValidationError, fields, post_load, validate

from connectors.payment import PaymentMethod
from engine.core.channels import CHANNELS
from engine.core.jurisdictions import NONE, jurisdiction_codes
from engine.core.messages import Message, msg
from engine.journey.calendar import LETTER_DAYS
from engine.journey.fields import ATTRIBUTE_TYPES

SCHEMA_VERSION = 3
TONES = (1, 2, 3, 4)
# Files a host stores with a case (API: PUT /cases/<id>/documents/<kind>) that an email may carry.
DOCUMENT_KINDS = ("invoice",)
# Who collects: the creditor itself (first party) or a collection agency or debt buyer (third
# party); the law asks more of the second (§13a RDG, FDCPA/Reg F) and the legal checks know it.
COLLECTORS = ("creditor", "agency")
# What upgrade() says of a bad schema_version (validation reads the English back, from_english).
SCHEMA_VERSION_MISSING = msg("Missing or not a whole number.")
SCHEMA_VERSION_NEWER = msg("Version {version} is newer than this Mahnwerk ({current}).")
SCHEMA_VERSION_OLDER = msg("Version {version} does not exist: schema versions start at 1.")


# A name's pattern in words (marshmallow's own error says only "does not match expected
# pattern"); validation reads the English back into these messages (from_english).
NAME_PATTERNS: dict[str, Message] = {
    r"^[A-Za-z0-9_\-]{1,64}$": msg("Use 1 to 64 letters, digits, '_' or '-', without spaces."),
    r"^[a-z0-9][a-z0-9\-_]{0,63}$": msg(
        "Use 1 to 64 small letters, digits, '-' or '_', starting with a letter or digit, "
        "e.g. dunning-2026."
    ),
    r"^[a-z][a-z0-9_]{0,63}$": msg(
        "Use a small letter, then up to 63 small letters, digits or '_', e.g. contract_type."
    ),
    r"^[a-z][a-z0-9_.]{0,63}$": msg(
        "Use a small letter, then up to 63 small letters, digits, '_' or '.', e.g. case.handover."
    ),
    r"^[A-Za-z0-9_]{1,32}$": msg("Use 1 to 32 letters, digits or '_', e.g. A or B."),
    r"^[a-z0-9_]{1,32}$": msg("Use 1 to 32 small letters, digits or '_', e.g. large_amount."),
}


def name_pattern(regex: str) -> validate.Regexp:
    """A Regexp whose error says the pattern in a manager's words (NAME_PATTERNS)."""
    return validate.Regexp(regex, error=NAME_PATTERNS[regex].text())


class OneOfRegistered(validate.OneOf):
    """OneOf over a registry's names as they are when a value is checked, not when defined.

    So an entry registered after a schema was built (a plugin imported later) is valid, and the
    designer's forms, which read `choices`, list it. The error reads as OneOf's.
    """

    def __init__(self, names: Callable[[], Iterable[Any]]) -> None:
        self._names = names
        self.labels: list[str] = []
        self.labels_text = ""
        self.error = self.default_message

    @property
    def choices(self) -> tuple[Any, ...]:
        """The names registered now."""
        return tuple(self._names())

    @property
    def choices_text(self) -> str:
        """The names registered now, as the error lists them."""
        return ", ".join(str(choice) for choice in self.choices)


def channel_choice(*extra: Any) -> OneOfRegistered:
    """A validator for a channel name (and `extra` values, e.g. None for 'no channel')."""
    return OneOfRegistered(lambda: (*CHANNELS, *extra))


def fallback_chain(params: dict[str, Any]) -> tuple[tuple[str, str | None], ...]:
    """A send step's fallbacks in order as (channel, template or None): the list `fallbacks`, or
    the single `fallback_channel` of journeys written before chains (both are accepted)."""
    hops = params.get("fallbacks")
    if isinstance(hops, list) and hops:
        return tuple(
            (str(h["channel"]), h.get("template") or None)
            for h in hops
            if isinstance(h, dict) and h.get("channel")
        )
    single = params.get("fallback_channel")
    if single and single != params.get("channel"):
        return ((str(single), str(params.get("fallback_template") or "") or None),)
    return ()


def send_channels(params: dict[str, Any]) -> tuple[str, ...]:
    """Every channel a send step may use: its own, then its fallbacks."""
    found = (params.get("channel"), *(hop for hop, _ in fallback_chain(params)))
    return tuple(dict.fromkeys(str(c) for c in found if c))


def send_templates(params: dict[str, Any]) -> tuple[str, ...]:
    """Every template a send step may send: its own, then its fallbacks' texts."""
    found = (params.get("template"), params.get("fallback_template"))
    found += tuple(text for _, text in fallback_chain(params))
    return tuple(dict.fromkeys(str(k) for k in found if k))


@dataclass(frozen=True)
class Node:
    """One step of a journey; `position` is layout only and never affects behaviour."""

    id: str
    type: str
    label: str
    params: dict[str, Any]
    position: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """A wire from one node's output port to the next node."""

    source: str
    port: str
    target: str


@dataclass(frozen=True)
class TemplateVariant:
    """The text of a template in one locale and tone level."""

    locale: str
    tone: int
    subject: str
    body: str
    html: str | None = None


@dataclass(frozen=True)
class Template:
    """A message template for one channel, with its variants."""

    key: str
    channel: str
    variants: tuple[TemplateVariant, ...]

    def variant(self, locale: str, tone: int) -> TemplateVariant | None:
        """The best variant: exact locale, then language, then any locale; same tone first."""
        lang = locale.split("-")[0].lower()
        ranked = sorted(
            self.variants,
            key=lambda v: (
                v.locale.lower() != locale.lower(),
                v.locale.split("-")[0].lower() != lang,
                abs(v.tone - tone),
            ),
        )
        return ranked[0] if ranked else None


@dataclass(frozen=True)
class Journey:
    """A whole journey version as drawn: nodes, edges, templates and settings."""

    key: str
    name: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    templates: dict[str, Template]
    attributes: dict[str, str]
    locale: str = "en"
    currency: str = "EUR"
    jurisdiction: str = NONE
    description: str = ""
    collector: str = "creditor"
    schema_version: int = SCHEMA_VERSION
    # The document's `settings` as given (e.g. {"payments": {"provider", "methods"}}); None when
    # the document has none, so documents without settings dump (and hash) as before.
    settings: dict[str, Any] | None = None
    # On which days a letter may be dated (engine/journey/calendar.py LETTER_DAYS); None: the
    # jurisdiction's default (DE and UK: not on a Sunday or public holiday).
    letter_days: str | None = None

    def node(self, node_id: str) -> Node:
        """The node with this id."""
        return self._nodes[node_id]

    @cached_property
    def consolidation_window(self) -> timedelta | None:
        """How far ahead a debtor's messages join a combined one; None: each goes alone."""
        options = (self.settings or {}).get("consolidate")
        if not isinstance(options, dict):
            return None
        return timedelta(hours=int(options.get("window_hours", 24)))

    def nodes_by_id(self) -> dict[str, Node]:
        """Nodes keyed by id."""
        return dict(self._nodes)

    @cached_property
    def _nodes(self) -> dict[str, Node]:
        # The runtime looks a node up for every step; build the index once per journey.
        return {n.id: n for n in self.nodes}

    def outgoing(self, node_id: str) -> dict[str, str]:
        """Port name -> target node id for one node (first wire wins)."""
        out: dict[str, str] = {}
        for e in self.edges:
            if e.source == node_id:
                out.setdefault(e.port, e.target)
        return out


class PositionSchema(Schema):
    x = fields.Float(load_default=0.0)
    y = fields.Float(load_default=0.0)


class NodeSchema(Schema):
    id = fields.String(required=True, validate=name_pattern(r"^[A-Za-z0-9_\-]{1,64}$"))
    type = fields.String(required=True)
    label = fields.String(load_default="")
    params = fields.Dict(keys=fields.String(), load_default=dict)
    position = fields.Nested(PositionSchema, load_default=dict)


class EdgeSchema(Schema):
    source = fields.String(required=True, data_key="from")
    port = fields.String(load_default="next")
    target = fields.String(required=True, data_key="to")


class VariantSchema(Schema):
    locale = fields.String(required=True)
    tone = fields.Integer(required=True, validate=validate.OneOf(TONES))
    subject = fields.String(load_default="")
    body = fields.String(required=True)
    html = fields.String(load_default=None, allow_none=True)


class TemplateSchema(Schema):
    channel = fields.String(required=True, validate=channel_choice())
    variants = fields.List(fields.Nested(VariantSchema), required=True)


class AttributeSchema(Schema):
    name = fields.String(required=True, validate=name_pattern(r"^[a-z][a-z0-9_]{0,63}$"))
    type = fields.String(required=True, validate=validate.OneOf(ATTRIBUTE_TYPES))


PAYMENT_METHODS = get_args(PaymentMethod)


class PaymentSettingsSchema(Schema):
    """How the portal lets a debtor of this journey pay: a provider by name and its methods."""

    provider = fields.String(
        load_default="sandbox", validate=validate.Regexp(r"^[a-z][a-z0-9_\-]{0,31}$")
    )
    methods = fields.List(
        fields.String(validate=validate.OneOf(PAYMENT_METHODS)),
        load_default=lambda: ["card"],
        validate=validate.Length(min=1, max=len(PAYMENT_METHODS)),
    )


# The portal's second factor (engine.access.portal_factor): what the debtor is asked before
# the case shows; "none" asks nothing.
SECOND_FACTORS = ("none", "postcode", "date_of_birth", "invoice_number")


class PortalSettingsSchema(Schema):
    """How the portal guards this journey's cases: a second factor and its lockout."""

    second_factor = fields.String(load_default="none", validate=validate.OneOf(SECOND_FACTORS))
    factor_failures = fields.Integer(load_default=5, validate=validate.Range(min=1, max=20))
    factor_lockout_minutes = fields.Integer(
        load_default=60, validate=validate.Range(min=1, max=7 * 24 * 60)
    )


class InterestSettingsSchema(Schema):
    """Interest the case earns (engine/money/): none, the statutory rate from data, or fixed."""

    mode = fields.String(load_default="off", validate=validate.OneOf(("off", "statutory", "fixed")))
    # Percent a year for `fixed`, as a string so the document keeps no float: "8" or "4.25".
    rate = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            r"^\d{1,2}(\.\d{1,4})?$", error="Give percent a year, e.g. 8 or 4.25."
        ),
    )
    # "due_date": from the day after the due date; "default": `default_after_days` later.
    from_ = fields.String(
        load_default="due_date",
        data_key="from",
        attribute="from",
        validate=validate.OneOf(("due_date", "default")),
    )
    default_after_days = fields.Integer(load_default=30, validate=validate.Range(min=0, max=365))


class BalanceSettingsSchema(Schema):
    """How payments are allocated over fees, interest and principal, and when a case closes."""

    allocation = fields.String(
        load_default="costs_interest_principal",
        validate=validate.OneOf(("costs_interest_principal", "principal_costs_interest")),
    )
    close_when = fields.String(
        load_default="all_paid", validate=validate.OneOf(("all_paid", "principal_paid"))
    )


PLAN_INTERVALS = ("monthly", "biweekly")


class PlanSettingsSchema(Schema):
    """The limits of an instalment plan a debtor of this journey may agree on the portal."""

    allowed = fields.Boolean(load_default=False)
    max_instalments = fields.Integer(load_default=6, validate=validate.Range(min=2, max=24))
    # The smallest instalment, in the case currency's minor units (2000 = 20.00 EUR).
    min_instalment_minor = fields.Integer(load_default=2000, validate=validate.Range(min=1))
    # The first instalment falls today or within this many days.
    first_within_days = fields.Integer(load_default=14, validate=validate.Range(min=0, max=90))
    interval = fields.String(load_default="monthly", validate=validate.OneOf(PLAN_INTERVALS))
    # Days after an instalment's date before it counts as missed (a debit takes days to arrive).
    grace_days = fields.Integer(load_default=3, validate=validate.Range(min=0, max=30))


class ReadabilitySettingsSchema(Schema):
    """The journey's readability targets per language, replacing the rule pack's default
    (engine/compliance/): German a Wiener Sachtextformel school grade the text may reach at
    most, English a Flesch reading ease score it must reach at least."""

    de = fields.Integer(strict=True, validate=validate.Range(min=4, max=15))
    en = fields.Integer(strict=True, validate=validate.Range(min=0, max=100))


class ConsolidateSettingsSchema(Schema):
    """Combine a debtor's messages of several cases due on one channel within a window into one
    (engine/delivery/consolidation.py)."""

    # Messages due up to this many hours after the first one join it (1 hour to 14 days).
    window_hours = fields.Integer(
        load_default=24, strict=True, validate=validate.Range(min=1, max=14 * 24)
    )


class JourneySettingsSchema(Schema):
    """Settings of a journey version beside its graph."""

    payments = fields.Nested(PaymentSettingsSchema)
    portal = fields.Nested(PortalSettingsSchema)
    interest = fields.Nested(InterestSettingsSchema)
    balance = fields.Nested(BalanceSettingsSchema)
    plans = fields.Nested(PlanSettingsSchema)
    readability = fields.Nested(ReadabilitySettingsSchema)
    consolidate = fields.Nested(ConsolidateSettingsSchema)


class JourneySchema(Schema):
    """The journey document as stored, exchanged and validated everywhere."""

    schema_version = fields.Integer(required=True)
    key = fields.String(required=True, validate=name_pattern(r"^[a-z0-9][a-z0-9\-_]{0,63}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="")
    locale = fields.String(load_default="en")
    currency = fields.String(load_default="EUR", validate=validate.Length(equal=3))
    jurisdiction = fields.String(load_default=NONE, validate=OneOfRegistered(jurisdiction_codes))
    collector = fields.String(load_default="creditor", validate=validate.OneOf(COLLECTORS))
    letter_days = fields.String(
        load_default=None, allow_none=True, validate=validate.OneOf(LETTER_DAYS)
    )
    attributes = fields.List(fields.Nested(AttributeSchema), load_default=list)
    nodes = fields.List(fields.Nested(NodeSchema), required=True)
    edges = fields.List(fields.Nested(EdgeSchema), load_default=list)
    templates = fields.Dict(
        keys=fields.String(), values=fields.Nested(TemplateSchema), load_default=dict
    )
    settings = fields.Nested(JourneySettingsSchema, load_default=None)

    @post_load
    def make_journey(self, data: dict[str, Any], **_: Any) -> Journey:
        templates = {
            key: Template(
                key=key,
                channel=t["channel"],
                variants=tuple(TemplateVariant(**v) for v in t["variants"]),
            )
            for key, t in data["templates"].items()
        }
        return Journey(
            key=data["key"],
            name=data["name"],
            description=data["description"],
            locale=data["locale"],
            currency=data["currency"].upper(),
            jurisdiction=data["jurisdiction"],
            collector=data["collector"],
            attributes={a["name"]: a["type"] for a in data["attributes"]},
            nodes=tuple(Node(**n) for n in data["nodes"]),
            edges=tuple(Edge(**e) for e in data["edges"]),
            templates=templates,
            schema_version=data["schema_version"],
            settings=data["settings"],
            letter_days=data["letter_days"],
        )


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no jurisdiction; journeys then were unbound."""
    doc = dict(doc)
    doc.setdefault("jurisdiction", NONE)
    doc["schema_version"] = 2
    return doc


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 3 gave the promise step a 'none' way (no promise on record), which version 2
    sent down 'broken': wire 'none' where 'broken' leads, so a stored journey behaves as before.
    """
    doc = dict(doc)
    nodes = doc.get("nodes") if isinstance(doc.get("nodes"), list) else []
    edges = list(doc.get("edges") or []) if isinstance(doc.get("edges"), list) else []
    promises = {n.get("id") for n in nodes if isinstance(n, dict) and n.get("type") == "promise"}
    wired = {(e.get("from"), e.get("port")) for e in edges if isinstance(e, dict)}
    for e in list(edges):
        if not isinstance(e, dict) or e.get("from") not in promises or e.get("port") != "broken":
            continue
        if (e["from"], "none") not in wired:
            edges.append({"from": e["from"], "port": "none", "to": e.get("to")})
            wired.add((e["from"], "none"))
    if "edges" in doc:
        doc["edges"] = edges
    doc["schema_version"] = 3
    return doc


UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


def upgrade(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored document to the current schema version, one step at a time."""
    version = doc.get("schema_version")
    if not isinstance(version, int):
        raise ValidationError({"schema_version": [SCHEMA_VERSION_MISSING.text()]})
    if version > SCHEMA_VERSION:
        newer = SCHEMA_VERSION_NEWER.with_params(version=version, current=SCHEMA_VERSION)
        raise ValidationError({"schema_version": [newer.text()]})
    if version < 1 or (version not in UPGRADES and version != SCHEMA_VERSION):
        older = SCHEMA_VERSION_OLDER.with_params(version=version)
        raise ValidationError({"schema_version": [older.text()]})
    while version < SCHEMA_VERSION:
        doc = UPGRADES[version](doc)
        version = doc["schema_version"]
    return doc


def load_journey(doc: dict[str, Any]) -> Journey:
    """Parse a document into a Journey; raises marshmallow.ValidationError on shape errors."""
    return JourneySchema().load(upgrade(doc))


def dump_journey(journey: Journey) -> dict[str, Any]:
    """The canonical JSON document of a journey."""
    return {
        "schema_version": journey.schema_version,
        "key": journey.key,
        "name": journey.name,
        "description": journey.description,
        "locale": journey.locale,
        "currency": journey.currency,
        "jurisdiction": journey.jurisdiction,
        # Written only when it is not the default, so documents from before it stay the same.
        **({"collector": journey.collector} if journey.collector != "creditor" else {}),
        **({"letter_days": journey.letter_days} if journey.letter_days else {}),
        "attributes": [{"name": k, "type": v} for k, v in journey.attributes.items()],
        "nodes": [
            {
                "id": n.id,
                "type": n.type,
                "label": n.label,
                "params": n.params,
                "position": n.position,
            }
            for n in journey.nodes
        ],
        "edges": [{"from": e.source, "port": e.port, "to": e.target} for e in journey.edges],
        "templates": {
            t.key: {
                "channel": t.channel,
                "variants": [
                    {"locale": v.locale, "tone": v.tone, "subject": v.subject, "body": v.body}
                    | ({"html": v.html} if v.html else {})
                    for v in t.variants
                ],
            }
            for t in journey.templates.values()
        },
    } | ({"settings": journey.settings} if journey.settings is not None else {})
