"""German and English UI: a small dict-based translation function, language kept in the session.

Every visible string goes through `_()`; English is the key, `translations.DE` the German text.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, request, session, url_for
from werkzeug.wrappers import Response

from designer.translations import DE
from engine.core.messages import Text

LANGUAGES = {"en": "English", "de": "Deutsch"}
bp = Blueprint("i18n", __name__)


def current_lang() -> str:
    """The UI language of this session: chosen, else the browser's best match, else English."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


def translate(text: str, **values: Any) -> str:
    """`text` in the session's language, with `{name}` placeholders filled in."""
    if current_lang() == "de":
        text = DE.get(text, text)
    return text.format(**values) if values else text


_ = translate


def localized(words: Text | str | None) -> str:
    """An engine text (a node type's label, a param's help) in the session's language."""
    if words is None:
        return ""
    return words.text(current_lang()) if isinstance(words, Text) else translate(words)


@bp.post("/lang/<code>")
def switch(code: str) -> Response:
    """Remember the chosen language and go back where the user was."""
    if code in LANGUAGES:
        session["lang"] = code
    target = request.form.get("next") or ""
    # Only local paths: an open redirect would let a link send users anywhere.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("journeys.index")
    return redirect(target)


def init_app(app: Flask) -> None:
    """Make `_`, `lang` and the language list available in every template."""
    app.jinja_env.globals.update(_=translate, localized=localized, LANGUAGES=LANGUAGES)
    app.context_processor(lambda: {"lang": current_lang()})
