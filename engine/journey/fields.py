"""Case fields that conditions, entry filters and templates may use: the one table of them.

Each field says what a manager reads (type, labels, unit) and how the runtime reads its value
from a case state, so the rules and the words can never name different fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from engine.core.messages import DEFAULT_LANG, Text, msg, pmsg
from engine.money.balance import booked_total

if TYPE_CHECKING:
    from engine.core.state import CaseState

Reader = Callable[["CaseState", datetime], Any]


@dataclass(frozen=True)
class CaseField:
    """A case field as a manager sees it in a condition, and as the runtime reads it."""

    name: str
    type: str  # number | string | boolean
    label: Text  # how a reviewer reads the field ("the open amount"), in every language
    unit: str = ""
    # A boolean field as the clause of a rule, where it holds and where it does not.
    holds: Text | None = None
    fails: Text | None = None
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


def _days_since_payment(cs: CaseState, now: datetime) -> int | None:
    """Whole days since the last payment was applied; None (no test holds) before any."""
    paid_on = cs.payment_history.get("last_paid_on")
    return (now.date() - date.fromisoformat(paid_on)).days if paid_on else None


# Labels carry the context "case field": German words a label unlike the clause of a rule
# ("eine E-Mail ist bekannt" / "... wenn eine E-Mail-Adresse bekannt ist").
CASE_FIELDS: dict[str, CaseField] = {
    f.name: f
    for f in (
        CaseField(
            "amount_open",
            "number",
            pmsg("case field", "the open amount"),
            "currency",
            read=_number("amount_open"),
        ),
        CaseField(
            "total_due",
            "number",
            pmsg("case field", "the total due (with fees and interest)"),
            "currency",
            read=lambda cs, now: float(booked_total(cs)),
        ),
        CaseField(
            "amount_original",
            "number",
            pmsg("case field", "the original amount"),
            read=_number("amount_original"),
        ),
        CaseField(
            "amount_paid",
            "number",
            pmsg("case field", "the amount paid so far"),
            read=_number("amount_paid"),
        ),
        CaseField(
            "days_overdue",
            "number",
            pmsg("case field", "the days overdue"),
            "days",
            read=lambda cs, now: cs.days_overdue(now.date()),
        ),
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
            read=_reaches("email"),
        ),
        CaseField(
            "has_phone",
            "boolean",
            pmsg("case field", "a mobile number is known"),
            holds=msg("a mobile number is known"),
            fails=msg("no mobile number is known"),
            read=_reaches("sms"),
        ),
        CaseField(
            "has_address",
            "boolean",
            pmsg("case field", "a postal address is known"),
            holds=msg("a postal address is known"),
            fails=msg("no postal address is known"),
            read=_reaches("letter"),
        ),
        CaseField("messages_sent", "number", pmsg("case field", "the messages sent so far")),
        CaseField("payments_count", "number", pmsg("case field", "the number of payments")),
        CaseField(
            "days_since_last_payment",
            "number",
            pmsg("case field", "the days since the last payment"),
            "days",
            read=_days_since_payment,
        ),
        CaseField(
            "failed_payments",
            "number",
            pmsg("case field", "the number of failed payments"),
            read=lambda cs, now: int(cs.payment_history.get("failed_payments", 0)),
        ),
        CaseField(
            "last_failure_reason",
            "string",
            pmsg("case field", "the reason the last payment failed"),
            read=lambda cs, now: cs.payment_history.get("last_failure_reason"),
        ),
        CaseField(
            "has_promise",
            "boolean",
            pmsg("case field", "a promise to pay is on record"),
            read=lambda cs, now: cs.promise_date is not None,
            offered=False,
        ),
        CaseField(
            "promise_kept",
            "boolean",
            pmsg("case field", "the promised amount has arrived"),
            read=lambda cs, now: cs.promise_kept(),
            offered=False,
        ),
    )
}
# The fields a manager may name in a condition or an entry filter.
BUILTIN_FIELDS: dict[str, CaseField] = {n: f for n, f in CASE_FIELDS.items() if f.offered}

ATTRIBUTE_PREFIX = "attributes."
# A journey's counters (the `count` step): conditions read `counters.<name>`, 0 until counted.
COUNTER_PREFIX = "counters."
ATTRIBUTE_TYPES = ("number", "string", "boolean")

# Template variables every case offers, beyond the condition fields.
TEMPLATE_VARIABLES = frozenset(
    {
        "debtor_name",
        "reference",
        "rf_reference",
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
        "counters",
        # What is owed (engine/money/statement.py): from the rates data, never typed in a text.
        "principal",
        "fees",
        "interest",
        "total_due",
        "interest_rate",
        "interest_rate_words",
        "interest_from",
        # The open items of the message (docs/debtors.md, "Consolidation"): one per case it
        # speaks for, each with reference, amount_open, principal, fees, interest, total_due,
        # currency, due_date and days_overdue; a message for one case lists that case.
        "items",
        "items_count",
        "items_total",
    }
)


def field_label(name: str, lang: str = DEFAULT_LANG) -> str:
    """The words a reviewer reads for a field name."""
    if name.startswith(ATTRIBUTE_PREFIX):
        return msg("the attribute '{name}'", name=name[len(ATTRIBUTE_PREFIX) :]).text(lang)
    if name.startswith(COUNTER_PREFIX):
        return msg("the counter '{name}'", name=name[len(COUNTER_PREFIX) :]).text(lang)
    field = BUILTIN_FIELDS.get(name)
    if field is None:
        return name
    return field.label.text(lang)


def field_type(
    name: str, attributes: dict[str, str], counters: frozenset[str] = frozenset()
) -> str | None:
    """The type of a field, or None when the journey does not know it."""
    if name.startswith(ATTRIBUTE_PREFIX):
        return attributes.get(name[len(ATTRIBUTE_PREFIX) :])
    if name.startswith(COUNTER_PREFIX):
        return "number" if name[len(COUNTER_PREFIX) :] in counters else None
    field = BUILTIN_FIELDS.get(name)
    return field.type if field else None
