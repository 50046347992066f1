"""Every API blueprint reads JSON bodies through the engine's safe reader."""

from __future__ import annotations

import flask_smorest
from flask import Flask

from api.blueprint import Blueprint


def test_every_smorest_blueprint_is_the_safe_one(app: Flask) -> None:
    """A blueprint made from flask_smorest's own class would parse a 50,000-deep body with the
    standard json module (a RecursionError, answered 500): the lifecycle's once did."""
    smorest = [bp for bp in app.blueprints.values() if isinstance(bp, flask_smorest.Blueprint)]
    assert smorest
    assert [bp.name for bp in smorest if not isinstance(bp, Blueprint)] == []
