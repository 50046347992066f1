"""Security headers for Mahnwerk's web apps: the one place the designer and the API take them from.

Like `mahnwerk_files`, this package imports nothing of Mahnwerk's, so the designer and the API
may both use it without importing each other or reaching up to the program (`mahnwerk`).

Every response gets `X-Content-Type-Options: nosniff`, a `Referrer-Policy` that keeps paths
(case ids, tokens in links) inside this site, and a Content-Security-Policy chosen by the app:
`PAGES` for HTML (scripts only from our own files, never inline: templates load static/js;
styles may be inline, since htmx, Drawflow and Swagger UI set them; no framing anywhere),
`DATA` for JSON and files, which run nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from flask.wrappers import Response

PAGES = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DATA = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def headers(csp: str) -> dict[str, str]:
    """The security headers of a response with this Content-Security-Policy."""
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    }


def header_list(csp: str) -> Iterable[tuple[str, str]]:
    """The same as WSGI (name, value) pairs, for answers made in front of Flask."""
    return list(headers(csp).items())


def install(app: Flask, policy: Callable[[Response], str]) -> None:
    """Add the headers to every response of `app`; `policy` picks the CSP per response."""

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in headers(policy(response)).items():
            response.headers.setdefault(name, value)
        return response
