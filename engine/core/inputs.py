"""JSON from outside (API bodies, the designer's canvas, imported documents), read safely.

`load_json` is `json.loads` that never ends in a RecursionError or stores what a database
cannot hold: a document nested deeper than MAX_JSON_DEPTH, a string or key with a lone
surrogate (e.g. "\\ud800", which UTF-8 cannot encode) or a NUL character (which PostgreSQL text
cannot hold) raises JsonInputError naming where it is ("items.3.debtor_name") in words for
the caller to show. `decode_text` reads a file's bytes as UTF-8 or, after a byte order mark,
UTF-16, and otherwise raises TextDecodeError naming the byte offset.
"""

from __future__ import annotations

import json
from typing import Any

from engine.core.messages import Message, msg

MAX_JSON_DEPTH = 64  # a journey document needs about 8; nothing a host sends needs more

TOO_DEEP = msg("The JSON is nested more than {n} levels deep.", n=MAX_JSON_DEPTH)
NOT_UNICODE = msg("This text is not valid Unicode (it holds a lone surrogate such as \\ud800).")
HAS_NUL = msg("This text holds a NUL character (\\u0000), which cannot be stored.")
NOT_UTF8 = msg(
    "not UTF-8 text: byte {offset} (0x{byte}) cannot be read; save the file as UTF-8 "
    "(UTF-16 with a byte order mark is read too)."
)
NOT_UTF16 = msg(
    "the file starts with a UTF-16 byte order mark, but byte {offset} cannot be read as UTF-16."
)
# Byte order marks and the codec of the text after them; no mark: UTF-8.
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class JsonInputError(ValueError):
    """JSON that is refused; `field` is the dotted path ("_schema" for the whole document),
    `too_deep` tells a document nested too deep from a field whose text cannot be stored."""

    def __init__(self, field: str, words: Message) -> None:
        self.field = field
        self.words = words
        self.too_deep = words is TOO_DEEP
        super().__init__(f"{field}: {words.text()}")


class TextDecodeError(ValueError):
    """Bytes that are not text in an encoding `decode_text` reads; `offset` is the first bad
    byte, counted from the start of the file (byte order mark included)."""

    def __init__(self, offset: int, words: Message) -> None:
        self.offset = offset
        self.words = words
        super().__init__(words.text())


def decode_text(raw: bytes) -> str:
    """A file's bytes as text: UTF-8, or UTF-8 / UTF-16 LE / UTF-16 BE after a byte order mark.

    Anything else (latin-1, UTF-16 without a mark, a cut-off character) is a TextDecodeError
    naming the first byte that cannot be read; a NUL byte, which no text file holds, counts.
    """
    codec, start = "utf-8", 0
    for bom, name in _BOMS:
        if raw.startswith(bom):
            codec, start = name, len(bom)
            break
    # A NUL byte is no text: UTF-16 or UTF-32 without a byte order mark, most likely.
    nul = raw.find(b"\x00", start) if codec == "utf-8" else -1
    try:
        text = raw[start : nul if nul >= 0 else None].decode(codec)
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        if codec == "utf-8":
            words = NOT_UTF8.with_params(offset=offset, byte=f"{raw[offset]:02x}")
        else:
            words = NOT_UTF16.with_params(offset=offset)
        raise TextDecodeError(offset, words) from None
    if nul >= 0:
        raise TextDecodeError(nul, NOT_UTF8.with_params(offset=nul, byte="00"))
    return text


def text_problem(value: str) -> Message | None:
    """Why a string cannot be stored, or None."""
    if "\x00" in value:
        return HAS_NUL
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return NOT_UNICODE
    return None


def check_json(value: Any, check_text: bool = True) -> None:
    """Refuse a parsed value that is too deep or holds text that cannot be stored (iterative)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if not check_text:
                continue
            problem = text_problem(item)
            if problem is not None:
                raise JsonInputError(path or "_schema", problem)
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise JsonInputError(path or "_schema", TOO_DEEP)
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            name = str(key)
            if check_text and isinstance(key, str) and text_problem(key) is not None:
                name = ascii(key)[1:-1]  # a key that cannot be shown as it is
                raise JsonInputError(
                    f"{path}.{name}" if path else name, text_problem(key) or NOT_UNICODE
                )
            stack.append((child, f"{path}.{name}" if path else name, depth + 1))


def storable_errors(data: dict[str, Any]) -> dict[str, list[str]]:
    """Per top-level field, why its text cannot be stored (a schema's per-item check)."""
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        try:
            check_json(value)
        except JsonInputError as exc:
            errors[str(name)] = [exc.words.text()]
    return errors


def load_json(data: str | bytes, check_text: bool = True) -> Any:
    """json.loads (UTF-8 for bytes) with check_json; JsonInputError (a ValueError) if refused,
    json.JSONDecodeError / UnicodeDecodeError (ValueErrors) for what is not JSON at all.
    `check_text=False` checks the depth only (for bulk bodies whose items check their text)."""
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonInputError("_schema", TOO_DEEP) from None
    check_json(value, check_text)
    return value
