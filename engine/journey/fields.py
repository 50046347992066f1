"""Case fields that conditions, entry filters and templates may use."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseField:
    """A case field as a manager sees it in a condition."""

    name: str
    type: str  # number | string | boolean
    label_en: str
    label_de: str
    unit: str = ""
    false_en: str = ""  # how a boolean field reads when it does not hold


BUILTIN_FIELDS: dict[str, CaseField] = {
    f.name: f
    for f in (
        CaseField("amount_open", "number", "the open amount", "der offene Betrag", "currency"),
        CaseField("amount_original", "number", "the original amount", "der ursprüngliche Betrag"),
        CaseField("amount_paid", "number", "the amount paid so far", "der bisher gezahlte Betrag"),
        CaseField("days_overdue", "number", "the days overdue", "die Tage im Verzug", "days"),
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
        ),
        CaseField(
            "has_phone", "boolean", "a mobile number is known", "eine Mobilnummer ist bekannt"
        ),
        CaseField(
            "has_address", "boolean", "a postal address is known", "eine Anschrift ist bekannt"
        ),
        CaseField(
            "messages_sent",
            "number",
            "the messages sent so far",
            "die bisher gesendeten Nachrichten",
        ),
        CaseField("payments_count", "number", "the number of payments", "die Zahl der Zahlungen"),
    )
}

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
