"""Render an outbox message for a case: the template context and the variant choice."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Any

from engine.access.portal_links import portal_url
from engine.core.messages import Text, Verbatim, msg
from engine.core.settings import load_settings
from engine.journey.budget import BudgetExceeded, Limits
from engine.journey.calendar import deadline_day
from engine.journey.document import Journey
from engine.journey.templating import Rendered, long_date, money, render
from engine.money.statement import owed_values
from engine.payments.references import rf_reference

DEFAULT_CREDITOR = "Mahnwerk Demo GmbH"
OVER_BUDGET = msg(
    "Template '{key}' ({channel}, {locale}, tone {tone}) of journey '{journey}' "
    "is over its budget: {problem}."
)


class RenderError(ValueError):
    """A message could not be rendered; the reason names template and problem.

    `words` says it in the designer's language; `over_budget` marks a render stopped by its
    time, step or size limits (the dispatcher sets such a variant aside for the rest of its run).
    """

    def __init__(self, reason: str, words: Text | None = None, over_budget: bool = False) -> None:
        super().__init__(reason)
        self.words: Text = words or Verbatim(reason)
        self.over_budget = over_budget


@lru_cache(maxsize=1)
def template_limits() -> Limits:
    """The render budget from the settings (MAHNWERK_TEMPLATE_*), read once per process."""
    settings = load_settings()
    return Limits(
        seconds=settings.template_seconds,
        steps=settings.template_steps,
        output=settings.template_chars,
    )


def case_context(
    case: Any,
    now: datetime,
    portal_base_url: str,
    creditor: str,
    link: str | None = None,
    journey: Journey | None = None,
) -> dict[str, Any]:
    """The variables a template may use, from a case row or state.

    `portal_url` is the case's signed portal link (`engine.access.portal_links.portal_url`),
    made here unless the caller made it already (`link`). With the case's `journey`, interest
    accrued since the last booking and the rate in words come from its interest settings.
    """
    locale = case.locale
    amount_paid = case.amount_original - case.amount_open
    owed = owed_values(case, journey, now.date(), locale.split("-")[0])
    item = open_item(case, now, owed)
    return {
        "debtor_name": case.debtor_name,
        "reference": case.reference or case.external_id,
        # The structured creditor reference for a bank transfer (a sample case: of case 0).
        "rf_reference": rf_reference(getattr(case, "id", None) or 0),
        "amount_open": case.amount_open,
        "amount_original": case.amount_original,
        "amount_paid": amount_paid,
        "currency": case.currency,
        "due_date": case.due_date,
        "days_overdue": (now.date() - case.due_date).days,
        "portal_url": link or portal_url(case, now, portal_base_url),
        "creditor_name": creditor,
        "today": now.date(),
        "promise_date": case.promise_date,
        "attributes": dict(case.attributes or {}),
        "counters": dict(getattr(case, "counters", None) or {}),
        "format_money": lambda amount, currency=None: money(
            amount, currency or case.currency, locale
        ),
        "format_date": lambda day: long_date(day, locale) if isinstance(day, date) else str(day),
        # A deadline n days (or business days) from today, in the debtor's date format; one
        # that would end on a weekend or public holiday ends on the next business day (§193 BGB).
        "deadline": lambda days, business=False: long_date(
            deadline_day(now.date(), int(days), bool(business), *_region(case)), locale
        ),
        # What is owed: principal, fees, interest (booked + accrued), total_due, the rate.
        **owed,
        # The open items this message speaks for: this case alone, unless the dispatcher
        # combines a debtor's messages (engine/delivery/consolidation.py replaces these).
        "items": [item],
        "items_count": 1,
        "items_total": item["total_due"],
    }


def case_item(case: Any, now: datetime, journey: Journey | None) -> dict[str, Any]:
    """One case as an open item of a combined message, with what its own journey charges."""
    return open_item(case, now, owed_values(case, journey, now.date(), case.locale.split("-")[0]))


def open_item(case: Any, now: datetime, owed: dict[str, Any]) -> dict[str, Any]:
    """One open item of a message: the case's amounts and dates, for `{% for item in items %}`."""
    return {
        "reference": case.reference or case.external_id,
        "amount_open": case.amount_open,
        "principal": owed["principal"],
        "fees": owed["fees"],
        "interest": owed["interest"],
        "total_due": owed["total_due"],
        "currency": case.currency,
        "due_date": case.due_date,
        "days_overdue": (now.date() - case.due_date).days,
    }


def _region(case: Any) -> tuple[str, str | None]:
    """The case's country and subdivision for its public holidays ('' where unknown)."""
    return getattr(case, "country", None) or "", getattr(case, "subdivision", None)


def render_message(
    journey: Journey,
    template_key: str,
    tone: int,
    locale: str,
    context: dict[str, Any],
    limits: Limits | None = None,
) -> Rendered:
    """Render the best variant of a template for this locale and tone, within its budget."""
    template = journey.templates.get(template_key)
    if template is None:
        raise RenderError(f"template '{template_key}' does not exist in this journey version")
    variant = template.variant(locale, tone)
    if variant is None:
        raise RenderError(f"template '{template_key}' has no variants")
    try:
        return render(
            variant.subject, variant.body, variant.html, context, limits or template_limits()
        )
    except BudgetExceeded as exc:
        words = OVER_BUDGET.with_params(
            key=template_key,
            channel=template.channel,
            locale=variant.locale,
            tone=variant.tone,
            journey=journey.key,
            problem=exc.words,
        )
        raise RenderError(words.text(), words, over_budget=True) from exc
    except Exception as exc:  # Jinja errors of every kind end up as a reason on the message
        raise RenderError(
            f"template '{template_key}' ({variant.locale}, tone {variant.tone}) "
            f"failed to render: {exc}"
        ) from exc
