"""Text the database cannot hold, refused in every designer form and query: one check.

A NUL character (PostgreSQL text cannot hold it) or a lone surrogate (UTF-8 cannot encode it)
in any form field, query parameter or uploaded file's name would fail only at the database, as
a 500 on PostgreSQL. `init_app` checks every request before its view runs, with the engine's
`text_problem`, and answers naming the field and what is wrong with it: for htmx a fragment
(200, as htmx swaps in no error answer) in place of the answer, else a 422 page with a link
back to the form.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, render_template, request

from designer.i18n import _, localized
from engine import text_problem


def unstorable(pairs: Iterable[tuple[str, str]]) -> str | None:
    """The first field whose name or value cannot be stored, as a sentence naming it."""
    for name, value in pairs:
        for text in (name, value):
            problem = text_problem(text)
            if problem is not None:
                shown = ascii(name)[1:-1] if text is name else name  # a name shown safely
                return _("Field '%(field)s': %(problem)s", field=shown, problem=localized(problem))
    return None


def _fields() -> Iterable[tuple[str, str]]:
    yield from request.args.items(multi=True)
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        yield from request.form.items(multi=True)
        for name, upload in request.files.items(multi=True):
            yield name, upload.filename or ""


def init_app(app: Flask) -> None:
    """Refuse, before any view, a request whose form or query holds text that cannot be stored."""

    @app.before_request
    def refuse_unstorable_text() -> tuple[str, int] | None:
        error = unstorable(_fields())
        if error is None:
            return None
        if request.headers.get("HX-Request") == "true":  # htmx swaps only a 2xx answer in
            return render_template("_field_error.html", error=error), 200
        back = request.referrer or ""
        back = back if back.startswith(request.host_url) else None
        return render_template("field_error.html", error=error, back=back), 422
