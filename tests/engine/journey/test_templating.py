"""Templates: sandboxed Jinja2, locale formatting, and problems found before publishing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from engine.journey.fields import TEMPLATE_VARIABLES
from engine.journey.templating import babel_locale, long_date, money, render, template_problems


@pytest.mark.parametrize(
    ("locale", "currency", "text"),
    [
        ("de-DE", "EUR", "1.234,50\xa0€"),
        ("en-GB", "EUR", "€1,234.50"),
        ("en-US", "USD", "$1,234.50"),
        ("de-CH", "CHF", "CHF\xa01’234.50"),
    ],
)
def test_money_is_formatted_for_the_debtors_locale(locale: str, currency: str, text: str) -> None:
    assert money(Decimal("1234.5"), currency, locale) == text


def test_money_from_a_float_keeps_cents_exact() -> None:
    assert money(0.1 + 0.2, "EUR", "de-DE") == "0,30\xa0€"


@pytest.mark.parametrize(
    ("locale", "text"),
    [("de-DE", "2. März 2026"), ("en-GB", "2 March 2026"), ("en-US", "March 2, 2026")],
)
def test_dates_are_written_out_for_the_debtors_locale(locale: str, text: str) -> None:
    assert long_date(date(2026, 3, 2), locale) == text


def test_babel_locale_uses_an_underscore() -> None:
    assert babel_locale("de-DE") == "de_DE"


def test_render_fills_subject_and_body() -> None:
    rendered = render("Invoice {{ reference }}", "Dear {{ debtor_name }}", None, context())

    assert (rendered.subject, rendered.body, rendered.html) == ("Invoice R-1", "Dear Ann", None)


def test_html_is_escaped_but_plain_text_is_not() -> None:
    ctx = context(debtor_name="<b>Ann</b>")

    rendered = render("", "{{ debtor_name }}", "<p>{{ debtor_name }}</p>", ctx)

    assert (rendered.body, rendered.html) == ("<b>Ann</b>", "<p>&lt;b&gt;Ann&lt;/b&gt;</p>")


def test_an_unknown_variable_fails_to_render_rather_than_print_nothing() -> None:
    with pytest.raises(UndefinedError):
        render("", "Hello {{ nobody }}", None, context())


def test_the_sandbox_refuses_to_reach_python_internals() -> None:
    with pytest.raises(SecurityError):
        render("", "{{ debtor_name.__class__.__mro__[1].__subclasses__() }}", None, context())


def test_a_template_using_only_known_variables_has_no_problems() -> None:
    source = " ".join(f"{{{{ {name} }}}}" for name in sorted(TEMPLATE_VARIABLES))

    assert template_problems(source) == []


def test_unknown_variables_are_each_named_once_in_order() -> None:
    source = "{{ iban }} {{ bic }} {{ iban }} {{ reference }}"

    assert template_problems(source) == ["unknown variable 'bic'", "unknown variable 'iban'"]


def test_a_variable_set_inside_the_template_is_not_unknown() -> None:
    assert template_problems("{% set x = 1 %}{{ x }}") == []


def test_a_syntax_error_is_named_with_its_line() -> None:
    problems = template_problems("Hello\n{% if reference %}open")

    assert len(problems) == 1 and problems[0].startswith("template syntax error on line 2")


def test_attribute_lookups_use_the_attributes_variable() -> None:
    assert template_problems("{{ attributes.contract_no }}") == []


def context(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {"debtor_name": "Ann", "reference": "R-1"}
    values.update(overrides)
    return values
