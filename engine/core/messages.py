"""What the engine says, as a message id plus parameters, rendered in English or German.

Validation problems and rule sentences carry a `Message` (or another `Text`) and render it with
`.text(lang)`. The wording lives in `engine.core.message_catalog` (one dict per language, the same
ids and placeholders in each). Placeholders are `str.format` fields; a value that is itself a
`Text` renders in the same language, numbers use the locale's decimal mark, and the German
catalog may write `{n:#Tag|Tage}` for "1 Tag" / "7 Tage".
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from babel.numbers import format_currency, format_decimal

from engine.core.message_catalog import CATALOGS

LANGUAGES = ("en", "de")
DEFAULT_LANG = "en"
# English keeps the engine's historical formatting (pinned by tests); other languages use babel.
_BABEL_LOCALES = {"de": "de_DE"}


@runtime_checkable
class Text(Protocol):
    """Anything the engine can say in a language."""

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words in `lang` ('en' or 'de'; anything else reads as English)."""
        ...


def language(lang: str | None) -> str:
    """'de' for 'de', 'de-DE' or 'de_AT'; English for anything not in the catalogs."""
    code = (lang or DEFAULT_LANG).replace("_", "-").split("-")[0].lower()
    return code if code in CATALOGS else DEFAULT_LANG


@dataclass(frozen=True)
class Message:
    """A catalog entry by id, with the values its placeholders need."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The message in `lang`; an id missing there falls back to English."""
        code = language(lang)
        template = CATALOGS[code].get(self.id)
        if template is None:
            code, template = DEFAULT_LANG, CATALOGS[DEFAULT_LANG][self.id]
        return _Formatter(code).vformat(template, (), dict(self.params))

    def __str__(self) -> str:
        return self.text(DEFAULT_LANG)


def msg(message_id: str, **params: Any) -> Message:
    """Shorthand: `msg('send.no_template', key='reminder')`."""
    return Message(message_id, params)


def has_message(message_id: str) -> bool:
    """Whether the catalogs know this id."""
    return message_id in CATALOGS[DEFAULT_LANG]


@dataclass(frozen=True)
class Verbatim:
    """Words that are the same in every language: a manager's own labels, unknown errors."""

    value: str

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words as given."""
        return self.value


@dataclass(frozen=True)
class Joined:
    """Several texts shown as one (marshmallow may report two errors for one field)."""

    parts: tuple[Text, ...]
    separator: str = "; "

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """Each part in `lang`, joined."""
        return self.separator.join(p.text(lang) for p in self.parts)


@dataclass(frozen=True)
class Money:
    """An amount in a currency: '100 EUR' in English (as always), '100,00 €' in German."""

    amount: Any
    currency: str

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The amount formatted for the language's locale."""
        code = language(lang)
        number = isinstance(self.amount, int | float | Decimal) and not isinstance(
            self.amount, bool
        )
        if code == DEFAULT_LANG or not number:
            shown = f"{self.amount:g}" if number else str(self.amount)
            return f"{shown} {self.currency}"
        return format_currency(
            Decimal(str(self.amount)), self.currency, locale=_BABEL_LOCALES[code]
        )


def number_text(value: Any, lang: str) -> str:
    """A number with the language's decimal mark ('99.5' / '99,5')."""
    code = language(lang)
    if code == DEFAULT_LANG:
        return f"{value:g}" if isinstance(value, float) else str(value)
    return format_decimal(value, locale=_BABEL_LOCALES[code])


class _Formatter(string.Formatter):
    """str.format that renders nested texts, numbers and counted nouns in one language."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Text):
            return format(value.text(self.lang), format_spec)
        if format_spec.startswith("#"):  # {n:#Tag|Tage}: the number and its noun
            one, _, many = format_spec[1:].partition("|")
            return f"{number_text(value, self.lang)} {one if value == 1 else many}"
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and self.lang != DEFAULT_LANG and format_spec in ("", "g"):
            return number_text(value, self.lang)
        return format(value, format_spec)


def placeholders(template: str) -> set[str]:
    """The placeholder names of a catalog text."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class _Pattern:
    message_id: str
    regex: re.Pattern[str]


def _pattern(message_id: str, template: str) -> _Pattern:
    """A regex that reads an English text back into the placeholders it was made from."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    return _Pattern(message_id, re.compile("".join(parts) + r"\Z", re.DOTALL))


_PATTERNS: dict[str, tuple[_Pattern, ...]] = {}


def from_english(english: str, prefixes: Iterable[str]) -> Text:
    """The catalog message under one of `prefixes` whose English reads `english`, else Verbatim.

    Texts made outside the engine's control (marshmallow's field errors, the template checker)
    arrive as English strings; reading them back keeps those libraries untouched.
    """
    key = ",".join(prefixes)
    patterns = _PATTERNS.get(key)
    if patterns is None:
        chosen = [
            (mid, text)
            for mid, text in CATALOGS[DEFAULT_LANG].items()
            if mid.startswith(tuple(prefixes))
        ]
        # The most literal text first: 'Must be >= {min}.' would also read 'Must be >= 0 and ...'.
        chosen.sort(key=lambda item: -len(re.sub(r"\{[^}]*\}", "", item[1])))
        patterns = _PATTERNS[key] = tuple(_pattern(mid, text) for mid, text in chosen)
    for pattern in patterns:
        found = pattern.regex.match(english)
        if found:
            return Message(pattern.message_id, found.groupdict())
    return Verbatim(english)
