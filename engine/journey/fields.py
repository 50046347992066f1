"""Case fields that conditions, entry filters and templates may use: the one table of them.

Each field says what a manager reads (type, labels, unit) and how the runtime reads its value
from a case state, so the rules and the words can never name different fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.core.state import CaseState

Reader = Callable[["CaseState", datetime], Any]


@dataclass(frozen=True)
class CaseField:
    """A case field as a manager sees it in a condition, and as the runtime reads it."""

    name: str
    type: str  # number | string | boolean
    label_en: str
    label_de: str
    unit: str = ""
    false_en: str = ""  # how a boolean field reads when it does not hold
    # The value rules compare, from a case state at `now`; None: the state's attribute `name`.
    read: Reader | None = field(default=None, kw_only=True)
    # False: only a node type's own rules read it (promise); conditions cannot name it.
    offered: bool = field(default=True, kw_only=True)

    def reader(self) -> Reader:
        """How the runtime reads this field's value from a case state at `now`."""
        if self.read is not None:
            return self.read
        attribute = attrgetter(self.name)
        return lambda cs, now: attribute(cs)


def _number(attribute: str) -> Reader:
    """A Decimal amount of the case state, as the float rules compare."""
    amount = attrgetter(attribute)
    return lambda cs, now: float(amount(cs))


def _reaches(channel: str) -> Reader:
    """Whether the case has an address for a channel (engine.core.channels)."""
    return lambda cs, now: cs.has_channel(channel)


CASE_FIELDS: dict[str, CaseField] = {
    f.name: f
    for f in (
        CaseField(
            "amount_open",
            "number",
            "the open amount",
            "der offene Betrag",
            "currency",
            read=_number("amount_open"),
        ),
        CaseField(
            "amount_original",
            "number",
            "the original amount",
            "der ursprüngliche Betrag",
            read=_number("amount_original"),
        ),
        CaseField(
            "amount_paid",
            "number",
            "the amount paid so far",
            "der bisher gezahlte Betrag",
            read=_number("amount_paid"),
        ),
        CaseField(
            "days_overdue",
            "number",
            "the days overdue",
            "die Tage im Verzug",
            "days",
            read=lambda cs, now: cs.days_overdue(now.date()),
        ),
        CaseField("country", "string", "the debtor's country", "das Land des Schuldners"),
        CaseField("currency", "string", "the currency", "die Währung"),
        CaseField("locale", "string", "the debtor's language", "die Sprache des Schuldners"),
        CaseField("debtor_type", "string", "the debtor type", "die Schuldnerart"),
        CaseField(
            "has_email",
            "boolean",
            "an email address is known",
            "eine E-Mail ist bekannt",
            false_en="no email address is known",
            read=_reaches("email"),
        ),
        CaseField(
            "has_phone",
            "boolean",
            "a mobile number is known",
            "eine Mobilnummer ist bekannt",
            read=_reaches("sms"),
        ),
        CaseField(
            "has_address",
            "boolean",
            "a postal address is known",
            "eine Anschrift ist bekannt",
            read=_reaches("letter"),
        ),
        CaseField(
            "messages_sent",
            "number",
            "the messages sent so far",
            "die bisher gesendeten Nachrichten",
        ),
        CaseField("payments_count", "number", "the number of payments", "die Zahl der Zahlungen"),
        CaseField(
            "has_promise",
            "boolean",
            "a promise to pay is on record",
            "eine Zahlungszusage liegt vor",
            read=lambda cs, now: cs.promise_date is not None,
            offered=False,
        ),
        CaseField(
            "promise_kept",
            "boolean",
            "the promised amount has arrived",
            "der zugesagte Betrag ist eingegangen",
            read=lambda cs, now: cs.promise_kept(),
            offered=False,
        ),
    )
}
# The fields a manager may name in a condition or an entry filter.
BUILTIN_FIELDS: dict[str, CaseField] = {n: f for n, f in CASE_FIELDS.items() if f.offered}

ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_TYPES = ("number", "string", "boolean")

# Template variables every case offers, beyond the condition fields.
TEMPLATE_VARIABLES = frozenset(
    {
        "debtor_name",
        "reference",
        "amount_open",
        "amount_original",
        "amount_paid",
        "currency",
        "due_date",
        "days_overdue",
        "portal_url",
        "creditor_name",
        "today",
        "promise_date",
        "attributes",
        "format_money",
        "format_date",
        "deadline",
    }
)


def field_label(name: str, lang: str = "en") -> str:
    """The words a reviewer reads for a field name."""
    if name.startswith(ATTRIBUTE_PREFIX):
        attr = name[len(ATTRIBUTE_PREFIX) :]
        return f"the attribute '{attr}'" if lang == "en" else f"das Merkmal '{attr}'"
    field = BUILTIN_FIELDS.get(name)
    if field is None:
        return name
    return field.label_en if lang == "en" else field.label_de


def field_type(name: str, attributes: dict[str, str]) -> str | None:
    """The type of a field, or None when the journey does not know it."""
    if name.startswith(ATTRIBUTE_PREFIX):
        return attributes.get(name[len(ATTRIBUTE_PREFIX) :])
    field = BUILTIN_FIELDS.get(name)
    return field.type if field else None
