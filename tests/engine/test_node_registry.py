"""The node type registry: every type is complete enough for the designer and is exemplified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from marshmallow import Schema

from engine import NODE_TYPES
from engine.core.messages import Message
from tests.catalog import german

EXAMPLES = Path(__file__).resolve().parents[2] / "journeys_examples"


def example_node_types() -> set[str]:
    """Every node type used in journeys_examples/*.json."""
    return {
        n["type"]
        for path in EXAMPLES.glob("*.json")
        for n in json.loads(path.read_text(encoding="utf-8"))["nodes"]
    }


def form_fields(schema: type[Schema]) -> dict[str, dict]:
    """Field name -> metadata for a params schema and its nested schemas."""
    found: dict[str, dict] = {}
    for name, field in schema().fields.items():
        found[name] = field.metadata
        inner = getattr(field, "inner", field)
        nested = getattr(inner, "nested", None)
        if isinstance(nested, type) and issubclass(nested, Schema):
            found.update({f"{name}.{k}": v for k, v in form_fields(nested).items()})
    return found


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_node_type_appears_in_an_example_journey(name: str) -> None:
    assert name in example_node_types()


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_node_type_has_a_label_in_english_and_german(name: str) -> None:
    label = NODE_TYPES[name].label

    assert isinstance(label, Message)  # a lazy text the node type owns, marked for the catalog
    assert label.text("en") and german(label)


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_node_type_has_help_text_in_english_and_german(name: str) -> None:
    help_text = NODE_TYPES[name].help

    assert isinstance(help_text, Message)
    assert help_text.text("en") and german(help_text)


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_node_type_has_a_params_schema(name: str) -> None:
    assert issubclass(NODE_TYPES[name].params_schema, Schema)


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_every_param_has_a_form_label_and_help(name: str) -> None:
    fields = form_fields(NODE_TYPES[name].params_schema)

    assert [f for f, meta in fields.items() if not (meta.get("label") and meta.get("help"))] == []
    texts = [meta[k] for meta in fields.values() for k in ("label", "help")]
    assert [t for t in texts if not (isinstance(t, Message) and german(t))] == []


@pytest.mark.parametrize("name", sorted(NODE_TYPES))
def test_registry_key_is_the_type_name(name: str) -> None:
    assert NODE_TYPES[name].name == name
