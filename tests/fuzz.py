"""Random nested and unicode JSON (and form data) for the fuzz tests of the API and designer."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from hypothesis import strategies as st

# Any code point, lone surrogates and NUL included.
TEXT = st.text(st.characters(blacklist_categories=()), max_size=30)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
# Hypothesis raises the recursion limit while it runs: 50,000 is past it all the same.
_DEPTHS = st.sampled_from((2, 64, 65, 1000, 50_000))
DEEP = _DEPTHS.map(lambda n: "[" * n + "]" * n) | _DEPTHS.map(lambda n: '{"a":' * n + "1" + "}" * n)
# Field names the apps read, so a random value lands where it is looked at.
NAMES = st.sampled_from(
    [
        "external_id",
        "debtor_name",
        "currency",
        "amount",
        "due_date",
        "country",
        "email",
        "phone",
        "attributes",
        "event_id",
        "type",
        "payload",
        "occurred_at",
        "cases",
        "events",
        "items",
        "journey",
        "url",
        "event_types",
        "key",
        "name",
        "schema_version",
        "nodes",
        "edges",
        "templates",
        "params",
        "id",
        "from",
        "to",
        "port",
        "json",
        "mapping",
    ]
)
CASE = {
    "external_id": "INV-F",
    "debtor_name": "Erika Mustermann",
    "country": "DE",
    "currency": "EUR",
    "amount": "250.00",
    "due_date": "2026-03-02",
}
EVENT = {"event_id": "ev-1", "type": "payment_received", "payload": {"amount": "1.00"}}


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A valid body with one field (or a new one) set to a random value."""
    names = st.sampled_from(sorted(base)) | NAMES | TEXT
    return st.tuples(names, JSON).map(lambda kv: {**base, kv[0]: kv[1]})


# A valid case or event with one random field, alone or as the items of a bulk request.
VALID_ISH = _mutated(CASE) | _mutated(EVENT) | _mutated({**EVENT, "case": "INV-1"})
BULK = st.lists(VALID_ISH | JSON, min_size=1, max_size=3).flatmap(
    lambda items: st.sampled_from(({"cases": items}, {"events": items}, {"items": items}))
)
BODY = VALID_ISH | BULK | st.dictionaries(NAMES | TEXT, JSON, max_size=8) | JSON
# A form is URL-encoded as UTF-8: no lone surrogates there (no browser can send one), NUL yes.
FORM_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
FORM = st.dictionaries(NAMES | FORM_TEXT, FORM_TEXT | st.integers().map(str), max_size=8)
_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
WRITE = {"POST", "PUT", "PATCH", "DELETE"}


def write_routes(app: Flask, prefix: str = "", skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(method, path) for every write route, its path parameters filled in."""
    values = {"key": "minimal", "number": "1", "external_id": "INV-1", "provider": "webhook"}
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(prefix) or rule.rule in skip:
            continue
        path = _PARAM.sub(lambda m: values.get(m.group(1), "1"), rule.rule)
        routes += [(method, path) for method in sorted((rule.methods or set()) & WRITE)]
    return sorted(set(routes))


def as_json(value: Any) -> str | bytes:
    """A body as the client sends it: surrogates escaped by json.dumps."""
    import json

    return value if isinstance(value, str) else json.dumps(value)
