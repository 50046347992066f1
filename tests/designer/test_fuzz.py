"""Fuzz every designer POST route, signed in (CSRF off), with random JSON and form data."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import save_version, utcnow
from mahnwerk_web.db import get_db
from tests.designer.conftest import login
from tests.factories import example_doc
from tests.fuzz import BODY, DEEP, FORM, as_json, write_routes

FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
SKIP = ("/logout", "/login")  # signing out would leave the rest unexercised


def _fuzz(app: Flask, client: FlaskClient, examples: int) -> None:
    with app.app_context(), get_db().transaction() as session:
        save_version(session, example_doc("minimal"), utcnow(), author="admin@example.org")
    routes = [r for r in write_routes(app, skip=SKIP) if not r[1].startswith("/static")]
    assert len(routes) >= 10
    signed_in = login(client, "admin")

    @settings(max_examples=examples, deadline=None, suppress_health_check=FIXTURES)
    @given(route=st.sampled_from(routes), json_body=BODY | DEEP, form=FORM, as_form=st.booleans())
    def post(route: tuple[str, str], json_body: Any, form: dict[str, str], as_form: bool) -> None:
        method, path = route
        if as_form:
            response = signed_in.open(path, method=method, data=form)
        else:
            body = as_json(json_body)
            response = signed_in.open(
                path, method=method, data=body, content_type="application/json"
            )
        assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:500])

    post()


def test_no_post_route_answers_5xx(app: Flask, client: FlaskClient) -> None:
    _fuzz(app, client, examples=150)


@pytest.mark.slow
def test_no_post_route_answers_5xx_many(app: Flask, client: FlaskClient) -> None:
    _fuzz(app, client, examples=3000)
