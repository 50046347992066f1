"""Message templates: sandboxed Jinja2, per channel, locale and tone level."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes

from engine.core.messages import Message, msg
from engine.journey.budget import (
    DEFAULT_LIMITS,
    LOOP_FILTER,
    SIZED_FILTER,
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
UNKNOWN_FILTER = msg("unknown filter '{name}' on line {line}")
UNKNOWN_TEST = msg("unknown test '{name}' on line {line}")
UNKNOWN_NAMES = (UNKNOWN_FILTER, UNKNOWN_TEST)
# What the budget check finds before publishing (engine/journey/budget.py has the limits).
LOOPS_TOO_LONG = msg(
    "loops on line {line} run {count} times, more than the {steps} steps a message may take"
)
TEXT_TOO_BIG = msg(
    "'{name}' on line {line} builds a text of {count} characters, "
    "more than the {chars} a message may have"
)
BUDGET_PROBLEMS = (LOOPS_TOO_LONG, TEXT_TOO_BIG)

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


@lru_cache(maxsize=256)
def _parsed(locale: str) -> Locale:
    """Babel's locale object, parsed once: parsing the string on every call was a fifth of a
    message's rendering in the dispatcher (an unknown locale raises, and is not cached)."""
    return Locale.parse(babel_locale(locale))


def money(amount: Decimal | float, currency: str, locale: str) -> str:
    """An amount formatted for the debtor's locale, e.g. '89,00 €'."""
    return format_currency(Decimal(str(amount)), currency, locale=_parsed(locale))


def long_date(day: date, locale: str) -> str:
    """A date formatted for the debtor's locale, e.g. '24. November 2026'."""
    return babel_format_date(day, format="long", locale=_parsed(locale))


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
    chunks: list[str] = []
    left = budget.limits.output
    try:  # what Template.generate does, without its extra generator around every chunk
        for chunk in template.root_render_func(template.new_context(context)):
            left -= len(chunk)
            if left < 0:
                raise BudgetExceeded(TOO_LONG.with_params(chars=budget.limits.output))
            chunks.append(chunk)
    except BudgetExceeded:
        raise
    except Exception:
        template.environment.handle_exception()  # re-raises with the template's line numbers
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
    names = [m.text() for m in unknown_names(ast)]
    if names:  # Jinja's code generator, which `meta` runs, stops at the first of these
        return names
    over = [m.text() for m in budget_problems(ast, DEFAULT_LIMITS)]  # first: meta folds constants
    try:
        unknown = sorted(meta.find_undeclared_variables(ast) - allowed)
    except TemplateSyntaxError as exc:  # whatever else the code generator refuses
        return [SYNTAX_ERROR.with_params(line=exc.lineno, error=exc.message).text(), *over]
    return [UNKNOWN_VARIABLE.with_params(name=name).text() for name in unknown] + over


def unknown_names(ast: nodes.Template) -> list[Message]:
    """Filters (`|name`) and tests (`is name`) the sandbox does not have, in source order."""
    found: list[Message] = []
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
            found.append(UNKNOWN_FILTER.with_params(name=node.name, line=node.lineno))
        elif isinstance(node, nodes.Test) and node.name not in _ENV.tests:
            found.append(UNKNOWN_TEST.with_params(name=node.name, line=node.lineno))
    return found


# -- what the budget check can tell before a render --------------------------------------------

_WIDTH_FILTERS = {"center": 0, "indent": 0}
_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill"}


def budget_problems(ast: nodes.Template, limits: Limits) -> list[Message]:
    """Loops and texts that go over `limits` whatever the case: literal counts and widths.

    Loops nested in each other multiply: `range(1000)` inside `range(1000)` is a million steps.
    A loop over something the check cannot count (a case field, a computed range) counts once;
    the render budget stops it if it turns out too long.
    """
    found: list[Message] = []
    _walk_loops(ast, 1, limits, found)
    for node in ast.find_all((nodes.Filter, nodes.Call, nodes.BinExpr)):
        name, count = _literal_size(node)
        if count is not None and count > limits.output:
            found.append(
                TEXT_TOO_BIG.with_params(
                    name=name, line=node.lineno, count=count, chars=limits.output
                )
            )
    return found


def _walk_loops(node: nodes.Node, outer: int, limits: Limits, found: list[Message]) -> None:
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.For):
            count = outer * (_loop_count(child.iter) or 1)
            if count > limits.steps:
                found.append(
                    LOOPS_TOO_LONG.with_params(line=child.lineno, count=count, steps=limits.steps)
                )
                continue  # one problem per nest of loops
            _walk_loops(child, count, limits, found)
        else:
            _walk_loops(child, outer, limits, found)


def _loop_count(node: nodes.Node) -> int | None:
    """How often a loop runs, when its iterable says so: range of literals, a list literal."""
    if isinstance(node, nodes.Filter) and node.name == LOOP_FILTER and node.node is not None:
        node = node.node
    if isinstance(node, nodes.Filter) and node.name == SIZED_FILTER and node.node is not None:
        node = node.node
    if isinstance(node, nodes.List | nodes.Tuple):
        return len(node.items)
    if isinstance(node, nodes.Const) and isinstance(node.value, list | tuple | str):
        return len(node.value)
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "range"
        and not node.kwargs
        and not node.dyn_args
    ):
        args = [_literal(a) for a in node.args]
        if args and all(isinstance(a, int) for a in args):
            try:
                return len(range(*args))
            except (TypeError, ValueError, OverflowError):
                return None
    return None


def _literal_size(node: nodes.Node) -> tuple[str, int | None]:
    """(what, characters) of a padding or repetition whose width is a literal."""
    if isinstance(node, nodes.Filter) and node.name in _WIDTH_FILTERS and node.args:
        return node.name, _int_literal(node.args[0])
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Getattr)
        and node.node.attr in _WIDTH_METHODS
        and node.args
    ):
        return node.node.attr, _int_literal(node.args[0])
    if isinstance(node, nodes.Mul):
        left, right = _literal(node.left), _literal(node.right)
        if isinstance(left, int) and isinstance(right, str | list | tuple):
            left, right = right, left
        if isinstance(left, str | list | tuple) and isinstance(right, int):
            return "*", max(len(left), 1) * right
    if isinstance(node, nodes.Pow):
        base, exponent = _literal(node.left), _literal(node.right)
        if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 and exponent > 0:
            return "**", int(exponent * math.log10(abs(base)))
    return "", None


def _int_literal(node: nodes.Node) -> int | None:
    value = _literal(node)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _literal(node: nodes.Node) -> Any:
    """The value of a literal expression (numbers, strings, + - * ** of them), else None."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg):
        value = _literal(node.node)
        return -value if isinstance(value, int | float) else None
    if isinstance(node, nodes.List | nodes.Tuple):
        return [None] * len(node.items)
    if isinstance(node, nodes.Pow | nodes.Mul | nodes.Add | nodes.Sub):
        left, right = _literal(node.left), _literal(node.right)
        if not (isinstance(left, int) and isinstance(right, int)):
            return None
        if isinstance(node, nodes.Pow):
            if right < 0 or (abs(left) > 1 and right * math.log10(abs(left)) > 30):
                return 10**30  # big enough to go over any budget, small enough to compute
            return left**right
        return {nodes.Mul: left * right, nodes.Add: left + right, nodes.Sub: left - right}[
            type(node)
        ]
    return None
