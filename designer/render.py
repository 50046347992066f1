"""Render a whole page, or only its partial when htmx asks."""

from __future__ import annotations

from typing import Any

from flask import render_template

from designer import htmx


def page_or_partial(page: str, partial: str, **context: Any) -> str:
    """The partial for an htmx request (it swaps one region), the whole page otherwise."""
    # A boosted request wants the whole page; only targeted htmx requests get the partial.
    if htmx and not htmx.boosted:
        return render_template(partial, **context)
    return render_template(page, **context)
