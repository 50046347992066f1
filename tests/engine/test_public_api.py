"""The engine's public API: every name resolves, and loading it costs nothing until used."""

from __future__ import annotations

import subprocess
import sys

import pytest

import engine

HEAVY = ("sqlalchemy", "werkzeug", "flask", "engine.delivery.dispatcher", "engine.storage.db")


@pytest.mark.parametrize("name", engine.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(engine, name) is not None


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        engine.no_such_thing  # noqa: B018


@pytest.mark.parametrize(
    "module", ["engine", "engine.rules.compiler", "engine.contact_policy", "engine.nodes"]
)
def test_pure_parts_import_without_sql_or_web(module: str) -> None:
    """A fresh interpreter: the rules and the contact policy pull in no SQL and no web code."""
    probe = f"import sys, {module}; print([m for m in {HEAVY!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
