"""The wait-for-event form speaks German in German: label, help, every field and every event."""

from __future__ import annotations

from typing import Any

from flask import Flask

from designer.i18n import localized
from designer.schema_form import palette


def _form(app: Flask, lang: str) -> dict[str, Any]:
    with app.test_request_context(headers={"Accept-Language": lang}):
        return next(t for t in palette(localized) if t["name"] == "wait_event")


def texts(form: dict[str, Any]) -> list[str]:
    """Every text a manager reads in the form, in order."""
    found = [form["label"], form["help"]]
    for f in form["fields"]:
        found += [f["label"], f["help"], *(c["label"] for c in f.get("choices") or [])]
    return found


def test_every_text_of_the_wait_for_event_form_is_german(app: Flask) -> None:
    english, german = texts(_form(app, "en")), texts(_form(app, "de"))
    assert len(english) == len(german) > 10
    assert [e for e, d in zip(english, german, strict=True) if e == d] == []
