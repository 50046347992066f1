"""What the engine says: English text plus parameters, rendered in English or German by gettext.

Validation problems and rule sentences carry a `Message` (or another `Text`) and render it with
`.text(lang)`. A message's id is its English text (the gettext msgid); the German words live in
the project's one gettext catalog, `engine/locale/de/LC_MESSAGES/messages.po` (compiled to the
`.mo` beside it, which `support.Translations` loads). `msg("...")` made at import time is the
engine's lazy string: nothing is looked up until `.text(lang)`. `pmsg(context, "...")` is the
same with a gettext context, for an English text that German says in two ways.

Placeholders are `str.format` fields; a value that is itself a `Text` renders in the same
language, numbers use the locale's decimal mark, and a German text may write `{n:#Tag|Tage}` for
"1 Tag" / "7 Tage". `make messages` extracts `msg`/`pmsg` texts into the catalog.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "de")
DEFAULT_LANG = "en"  # the source language: msgids are English, it needs no catalog
# The gettext catalogs every package shares: <lang>/LC_MESSAGES/messages.po and .mo.
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
# English keeps the engine's historical formatting (pinned by tests); other languages use babel.
_BABEL_LOCALES = {"de": "de_DE"}


@runtime_checkable
class Text(Protocol):
    """Anything the engine can say in a language."""

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words in `lang` ('en' or 'de'; anything else reads as English)."""
        ...


def language(lang: str | None) -> str:
    """'de' for 'de', 'de-DE' or 'de_AT'; English for anything not in LANGUAGES."""
    code = (lang or DEFAULT_LANG).replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANG


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    """The gettext catalog of a language (English, the source language, translates nothing)."""
    code = language(lang)
    if code == DEFAULT_LANG:
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), [code], DOMAIN)


@dataclass(frozen=True)
class Message:
    """A gettext msgid (the English text) with the values its placeholders need."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    context: str | None = None  # gettext's msgctxt, where one English text has two translations

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The message in `lang`; a text the catalog lacks reads in English."""
        code = language(lang)
        words = translations(code)
        template = words.pgettext(self.context, self.id) if self.context else words.gettext(self.id)
        return _Formatter(code).vformat(template, (), dict(self.params))

    def with_params(self, **params: Any) -> Message:
        """The same text with (more) values for its placeholders."""
        return replace(self, params={**self.params, **params})

    def __str__(self) -> str:
        return self.text(DEFAULT_LANG)


def msg(message_id: str, **params: Any) -> Message:
    """Mark an English text for the catalog: `msg("There is no template '{key}'.", key=k)`."""
    return Message(message_id, params)


def pmsg(context: str, message_id: str, **params: Any) -> Message:
    """`msg` with a gettext context: `pmsg("plural field", "{field} is {value}", ...)`."""
    return Message(message_id, params, context)


@dataclass(frozen=True)
class Verbatim:
    """Words that are the same in every language: a manager's own labels, unknown errors."""

    value: str

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words as given."""
        return self.value


@dataclass(frozen=True)
class Bilingual:
    """Words written out in each language, not in the catalog: a rule pack's reason, say."""

    en: str
    de: str

    def text(self, lang: str = DEFAULT_LANG) -> str:
        """The words of `lang`; any language but German reads the English."""
        return self.de if language(lang) == "de" else self.en

    def __str__(self) -> str:
        return self.en


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
    """The placeholder names of a catalog text ('{key}' and '{n:#Tag|Tage}' both name one)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@lru_cache(maxsize=64)
def _patterns(
    known: tuple[tuple[str, str | None], ...],
) -> tuple[tuple[Message, re.Pattern[str]], ...]:
    """A regex per known text that reads an English text back into its placeholders.

    The most literal text first: 'Must be >= {min}.' would also read 'Must be >= 0 and ...'.
    """
    chosen = sorted(known, key=lambda item: -len(re.sub(r"\{[^}]*\}", "", item[0])))
    return tuple((Message(text, {}, context), _pattern(text)) for text, context in chosen)


def _pattern(template: str) -> re.Pattern[str]:
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def from_english(english: str, known: Iterable[Message]) -> Text:
    """The message among `known` whose English reads `english`, else Verbatim.

    Texts made outside the engine's control (marshmallow's field errors, the template checker)
    arrive as English strings; reading them back keeps those libraries untouched.
    """
    for message, regex in _patterns(tuple((m.id, m.context) for m in known)):
        found = regex.match(english)
        if found:
            return Message(message.id, found.groupdict(), message.context)
    return Verbatim(english)
