"""Message templates: sandboxed Jinja2, per channel, locale and tone level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateSyntaxError, meta

from engine.core.messages import msg
from engine.journey.budget import (
    DEFAULT_LIMITS,
    TOO_LONG,
    BoundedEnvironment,
    BudgetExceeded,
    Limits,
    budgeted,
)
from engine.journey.fields import TEMPLATE_VARIABLES

# The checker's findings are English strings; validation reads them back (from_english).
SYNTAX_ERROR = msg("template syntax error on line {line}: {error}")
UNKNOWN_VARIABLE = msg("unknown variable '{name}'")

# The sandbox with budgets on time, steps and sizes (engine/journey/budget.py).
_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)
_HTML_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=True, trim_blocks=True)


@dataclass(frozen=True)
class Rendered:
    """A message as the debtor sees it."""

    subject: str
    body: str
    html: str | None = None


def babel_locale(locale: str) -> str:
    """'de-DE' -> 'de_DE', the form babel wants."""
    return locale.replace("-", "_")


def money(amount: Decimal | float, currency: str, locale: str) -> str:
    """An amount formatted for the debtor's locale, e.g. '89,00 €'."""
    return format_currency(Decimal(str(amount)), currency, locale=babel_locale(locale))


def long_date(day: date, locale: str) -> str:
    """A date formatted for the debtor's locale, e.g. '24. November 2026'."""
    return babel_format_date(day, format="long", locale=babel_locale(locale))


@lru_cache(maxsize=2048)
def _compile(source: str, html: bool) -> Any:
    return (_HTML_ENV if html else _ENV).from_string(source)


def render(
    subject: str,
    body: str,
    html: str | None,
    context: dict[str, Any],
    limits: Limits = DEFAULT_LIMITS,
) -> Rendered:
    """Render one template variant against a case context, all parts under one budget.

    Raises `BudgetExceeded` when the render goes over `limits` (time, steps, sizes).
    """
    with budgeted(limits) as budget:
        return Rendered(
            subject=_generate(_compile(subject, False), context, budget),
            body=_generate(_compile(body, False), context, budget),
            html=_generate(_compile(html, True), context, budget) if html else None,
        )


def _generate(template: Any, context: dict[str, Any], budget: Any) -> str:
    """The rendered text, streamed: at most `limits.output` characters, on the clock."""
    chunks, left = [], budget.limits.output
    for chunk in template.generate(context):
        left -= len(chunk)
        if left < 0:
            raise BudgetExceeded(TOO_LONG.with_params(chars=budget.limits.output))
        chunks.append(chunk)
    budget.check_time()
    return "".join(chunks)


def template_problems(source: str, allowed: frozenset[str] = TEMPLATE_VARIABLES) -> list[str]:
    """Syntax errors and unknown variables in a template source, in plain words."""
    return list(_template_problems(source, allowed))


@lru_cache(maxsize=4096)
def _template_problems(source: str, allowed: frozenset[str]) -> tuple[str, ...]:
    """Cached: every save re-checks every variant, and most have not changed."""
    return tuple(_find_template_problems(source, allowed))


def _find_template_problems(source: str, allowed: frozenset[str]) -> list[str]:
    try:
        ast = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        return [SYNTAX_ERROR.with_params(line=exc.lineno, error=exc.message).text()]
    unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
    return [UNKNOWN_VARIABLE.with_params(name=name).text() for name in unknown]
