"""The API's Blueprint: flask-smorest's, reading JSON bodies with the engine's `load_json`.

A body nested deeper than MAX_JSON_DEPTH answers 400, a string with a lone surrogate or a NUL
character 422 naming the field (problem+json), instead of a RecursionError or a database error.
"""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from engine import JsonInputError, load_json


class SafeParser(FlaskParser):
    """webargs' Flask parser with `load_json` for JSON bodies."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        try:
            # A bulk body's items check their own text: one bad item does not refuse the rest.
            check_text = not req.path.endswith("/bulk")
            return load_json(req.get_data(cache=True), check_text=check_text)
        except JsonInputError as exc:
            abort(400 if exc.too_deep else 422, errors={exc.field: [exc.words.text()]})


class Blueprint(flask_smorest.Blueprint):
    """A flask-smorest Blueprint whose @arguments read JSON with `load_json`."""

    ARGUMENTS_PARSER = SafeParser()
