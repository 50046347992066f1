"""Describe a node type's marshmallow params schema as form fields the canvas page renders.

The description is plain JSON: the browser builds inputs from it (kind, label, help, choices),
so a new node type needs no designer code at all.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, missing, validate

from designer.i18n import current_lang, localized, word
from engine import NODE_TYPES


def describe_schema(schema: type[Schema] | Schema) -> list[dict[str, Any]]:
    """Every field of a schema as {name, kind, label, help, required, default, choices, ...}."""
    instance = schema() if isinstance(schema, type) else schema
    return [_describe(name, f) for name, f in instance.fields.items()]


def _describe(name: str, field: fields.Field) -> dict[str, Any]:
    meta = field.metadata or {}
    described: dict[str, Any] = {
        "name": name,
        "kind": _kind(field),
        "label": localized(meta.get("label") or name),
        "help": localized(meta.get("help")),
        "required": bool(field.required),
        "nullable": bool(field.allow_none),
        "default": _default(field),
        "choices": _choices(field, meta),
    }
    if isinstance(field, fields.List):
        inner = field.inner
        if isinstance(inner, fields.Nested):
            described["kind"] = "list_nested"
            described["fields"] = describe_schema(inner.schema)
        else:
            described["kind"] = "multi_choice" if _choices(inner, meta) else "list"
            described["choices"] = _choices(inner, meta)
    elif isinstance(field, fields.Nested):
        described["fields"] = describe_schema(field.schema)
    return described


def _kind(field: fields.Field) -> str:
    if isinstance(field, fields.Boolean):
        return "boolean"
    if isinstance(field, fields.Integer):
        return "integer"
    if isinstance(field, fields.Float | fields.Decimal):
        return "number"
    if isinstance(field, fields.String):
        return "string"
    if isinstance(field, fields.Nested):
        return "nested"
    return "raw"  # any JSON value: a number, true/false, a list or a word


def _default(field: fields.Field) -> Any:
    value = field.load_default
    if value is missing:
        return None
    return value() if callable(value) else value


def _choices(field: fields.Field, meta: dict[str, Any]) -> list[dict[str, Any]]:
    """[{value, label}] from metadata choices (dict or list) or a OneOf validator."""
    given = meta.get("choices")
    if isinstance(given, dict):
        return [{"value": k, "label": localized(v)} for k, v in given.items()]
    values: list[Any] = list(given or [])
    if not values:
        for validator in _validators(field):
            if isinstance(validator, validate.OneOf):
                values = [c for c in validator.choices if c is not None]
    return [{"value": v, "label": word(v)} for v in values]


def _validators(field: fields.Field) -> list[Any]:
    return list(getattr(field, "validators", []) or [])


def palette(localize: Any) -> list[dict[str, Any]]:
    """Every node type for the palette: name, label, help, form fields and default ports."""
    items = []
    for name, node_type in NODE_TYPES.items():
        schema = describe_schema(node_type.params_schema)
        defaults = {f["name"]: f["default"] for f in schema if f["default"] is not None}
        items.append(
            {
                "name": name,
                "label": localize(node_type.label),
                "help": localize(node_type.help),
                "parks": node_type.parks,
                "fields": schema,
                "defaults": defaults,
                "ports": ports_of(name, defaults),
            }
        )
    return items


def ports_of(type_name: str, params: dict[str, Any]) -> list[dict[str, str]]:
    """The output ports of a node of this type with these params; tolerates half-filled forms."""
    node_type = NODE_TYPES.get(type_name)
    if node_type is None:
        return []
    try:
        ports = node_type.ports(params)
    except (KeyError, TypeError, ValueError, AttributeError):
        ports = node_type.ports({})
    lang = current_lang()
    # Engine ports say their label in every language; a manager's own branch label goes via _().
    return [
        {"name": p.name, "label": p.text(lang) if p.words is not None else word(p.label)}
        for p in ports
    ]
