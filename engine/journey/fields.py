"""Case fields that conditions, entry filters and templates may use."""

from __future__ import annotations

from dataclasses import dataclass

from engine.core.messages import DEFAULT_LANG, Text, msg, pmsg


@dataclass(frozen=True)
class CaseField:
    """A case field as a manager sees it in a condition."""

    name: str
    type: str  # number | string | boolean
    label: Text  # how a reviewer reads the field ("the open amount"), in every language
    unit: str = ""
    # A boolean field as the clause of a rule, where it holds and where it does not.
    holds: Text | None = None
    fails: Text | None = None


# Labels carry the context "case field": German words a label unlike the clause of a rule
# ("eine E-Mail ist bekannt" / "... wenn eine E-Mail-Adresse bekannt ist").
BUILTIN_FIELDS: dict[str, CaseField] = {
    f.name: f
    for f in (
        CaseField("amount_open", "number", pmsg("case field", "the open amount"), "currency"),
        CaseField("amount_original", "number", pmsg("case field", "the original amount")),
        CaseField("amount_paid", "number", pmsg("case field", "the amount paid so far")),
        CaseField("days_overdue", "number", pmsg("case field", "the days overdue"), "days"),
        CaseField("country", "string", pmsg("case field", "the debtor's country")),
        CaseField("currency", "string", pmsg("case field", "the currency")),
        CaseField("locale", "string", pmsg("case field", "the debtor's language")),
        CaseField("debtor_type", "string", pmsg("case field", "the debtor type")),
        CaseField(
            "has_email",
            "boolean",
            pmsg("case field", "an email address is known"),
            holds=msg("an email address is known"),
            fails=msg("no email address is known"),
        ),
        CaseField(
            "has_phone",
            "boolean",
            pmsg("case field", "a mobile number is known"),
            holds=msg("a mobile number is known"),
            fails=msg("no mobile number is known"),
        ),
        CaseField(
            "has_address",
            "boolean",
            pmsg("case field", "a postal address is known"),
            holds=msg("a postal address is known"),
            fails=msg("no postal address is known"),
        ),
        CaseField("messages_sent", "number", pmsg("case field", "the messages sent so far")),
        CaseField("payments_count", "number", pmsg("case field", "the number of payments")),
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


def field_label(name: str, lang: str = DEFAULT_LANG) -> str:
    """The words a reviewer reads for a field name."""
    if name.startswith(ATTRIBUTE_PREFIX):
        return msg("the attribute '{name}'", name=name[len(ATTRIBUTE_PREFIX) :]).text(lang)
    field = BUILTIN_FIELDS.get(name)
    if field is None:
        return name
    return field.label.text(lang)


def field_type(name: str, attributes: dict[str, str]) -> str | None:
    """The type of a field, or None when the journey does not know it."""
    if name.startswith(ATTRIBUTE_PREFIX):
        return attributes.get(name[len(ATTRIBUTE_PREFIX) :])
    field = BUILTIN_FIELDS.get(name)
    return field.type if field else None
