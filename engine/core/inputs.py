"""JSON from outside (API bodies, the designer's canvas, imported documents), read safely.

`load_json` is `json.loads` that never ends in a RecursionError or stores what a database
cannot hold: a document nested deeper than MAX_JSON_DEPTH, a string or key with a lone
surrogate (e.g. "\\ud800", which UTF-8 cannot encode) or a NUL character (which PostgreSQL text
cannot hold) raises JsonInputError naming where it is ("items.3.debtor_name") in words for
the caller to show.
"""

from __future__ import annotations

import json
from typing import Any

from engine.core.messages import Message, msg

MAX_JSON_DEPTH = 64  # a journey document needs about 8; nothing a host sends needs more

TOO_DEEP = msg("The JSON is nested more than {n} levels deep.", n=MAX_JSON_DEPTH)
NOT_UNICODE = msg("This text is not valid Unicode (it holds a lone surrogate such as \\ud800).")
HAS_NUL = msg("This text holds a NUL character (\\u0000), which cannot be stored.")


class JsonInputError(ValueError):
    """JSON that is refused; `field` is the dotted path ("_schema" for the whole document),
    `too_deep` tells a document nested too deep from a field whose text cannot be stored."""

    def __init__(self, field: str, words: Message) -> None:
        self.field = field
        self.words = words
        self.too_deep = words is TOO_DEEP
        super().__init__(f"{field}: {words.text()}")


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
