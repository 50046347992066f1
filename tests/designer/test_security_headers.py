"""Security headers on designer responses, and templates the CSP can run (issue 15.8)."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from mahnwerk_files import TEMPLATES

# A <script> with a body to run: not src=, not a JSON data block (which the browser never runs).
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>")
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def _csp(answer: object) -> dict[str, str]:
    value = answer.headers["Content-Security-Policy"]  # type: ignore[attr-defined]
    return {d.split()[0]: d.strip() for d in value.split(";") if d.strip()}


def test_pages_carry_a_csp_without_inline_script_and_no_framing(manager: FlaskClient) -> None:
    for path in ("/login", "/journeys"):
        answer = manager.get(path)
        assert answer.status_code == 200
        csp = _csp(answer)
        assert csp["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["frame-ancestors"] == "frame-ancestors 'none'"
        assert csp["object-src"] == "object-src 'none'"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert answer.headers["X-Frame-Options"] == "DENY"


def test_redirects_and_static_files_get_them_too(client: FlaskClient) -> None:
    for answer in (client.get("/journeys"), client.get("/static/js/canvas.js")):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert _csp(answer)["frame-ancestors"] == "frame-ancestors 'none'"
    assert _csp(client.get("/static/js/canvas.js"))["default-src"] == "default-src 'none'"


def test_no_template_has_inline_script_or_event_handlers() -> None:
    found = []
    for path in sorted(Path(TEMPLATES).rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
        found += [f"{path.name}: {m.group(0)}" for m in INLINE_HANDLER.finditer(text)]
    assert found == []
