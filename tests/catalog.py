"""The German gettext catalog as tests read it: is a text translated, and how."""

from __future__ import annotations

from functools import lru_cache

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from engine.core.messages import DOMAIN, LOCALE_DIR, Message

PO = LOCALE_DIR / "de" / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=1)
def german_catalog() -> Catalog:
    """The German .po as Babel reads it."""
    with PO.open("rb") as f:
        return read_po(f, locale="de")


def german(message: Message | str, context: str | None = None) -> str:
    """The catalog's German for a message or msgid ('' where it has none, or a fuzzy one)."""
    if isinstance(message, Message):
        message, context = message.id, message.context
    entry = german_catalog().get(message, context=context)
    return entry.string if entry is not None and not entry.fuzzy else ""
