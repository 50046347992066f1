"""The gettext catalog: every text the code marks is translated, and the .mo matches the .po.

German is the one translation (English is the source language: the msgids). `make messages`
extracts the marked texts, merges them into the .po and compiles the .mo; these tests fail when
someone changed a text without running it, or left a German text empty or fuzzy.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo

from engine.core.messages import LOCALE_DIR
from tests.catalog import PO, german_catalog

ROOT = Path(__file__).resolve().parents[3]
MO = PO.with_suffix(".mo")
# The keywords `make messages` passes to pybabel extract, besides Babel's defaults (_, N_ ...).
KEYWORDS = ("msg", "pmsg:1c,2")


def catalog() -> list[tuple[str | None, str, str, bool]]:
    """(context, msgid, msgstr, fuzzy) of every entry of the German .po."""
    return [(m.context, m.id, m.string, m.fuzzy) for m in german_catalog() if m.id]


ENTRIES = catalog()


def extracted() -> set[tuple[str | None, str]]:
    """(context, msgid) of every text the code and templates mark, as `make messages` finds."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(list(KEYWORDS))}
    found = set()
    for _, _, message, _, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def names(text: str) -> set[str]:
    """Placeholder names: '{key}' and '{n:#Tag|Tage}' (engine), '%(n)s' (designer)."""
    braces = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return braces | set(re.findall(r"%\((\w+)\)", text))


def _str(context: str | bytes | None) -> str | None:
    return context.decode("utf-8") if isinstance(context, bytes) else context


def test_the_catalog_is_not_empty() -> None:
    assert len(ENTRIES) > 200


@pytest.mark.parametrize(("context", "msgid"), [(c, i) for c, i, _, _ in ENTRIES])
def test_every_text_has_german(context: str | None, msgid: str) -> None:
    found = {(c, i): (s, fuzzy) for c, i, s, fuzzy in ENTRIES}
    german, fuzzy = found[(context, msgid)]

    assert german.strip(), "no German text"
    assert not fuzzy, "fuzzy: check the German text and remove the fuzzy flag"


@pytest.mark.parametrize(("context", "msgid", "german"), [(c, i, s) for c, i, s, _ in ENTRIES])
def test_german_uses_the_placeholders_of_the_english(
    context: str | None, msgid: str, german: str
) -> None:
    assert names(german) == names(msgid)


def test_every_marked_text_is_in_the_catalog() -> None:
    in_po = {(c, i) for c, i, _, _ in ENTRIES}

    assert sorted(extracted() - in_po, key=str) == [], "run `make messages`"


def test_the_catalog_has_no_text_the_code_no_longer_marks() -> None:
    in_po = {(c, i) for c, i, _, _ in ENTRIES}

    assert sorted(in_po - extracted(), key=str) == [], "run `make messages`"


def test_the_compiled_catalog_is_current() -> None:
    with MO.open("rb") as f:
        compiled = read_mo(f)
    # read_mo gives a context as bytes
    in_mo = {(_str(m.context), m.id): m.string for m in compiled if m.id}

    assert in_mo == {(c, i): s for c, i, s, fuzzy in ENTRIES if not fuzzy}, "run `make messages`"


def test_make_messages_extracts_with_these_keywords() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    extract = re.search(r"pybabel extract ((?:.*\\\n)*.*)", makefile)

    assert extract is not None
    assert re.findall(r"-k (\S+)", extract.group(1)) == list(KEYWORDS)


def test_the_catalog_ships_in_the_package() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")

    assert (
        '"engine" = ["locale/*/LC_MESSAGES/messages.po", "locale/*/LC_MESSAGES/messages.mo"]'
        in (pyproject)
    )
    assert LOCALE_DIR == ROOT / "engine" / "locale"
