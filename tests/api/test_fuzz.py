"""Fuzz every API write endpoint with random nested and unicode JSON: never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import BODY, DEEP, as_json, write_routes

FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _fuzz(app: Flask, auth: dict[str, str], examples: int) -> None:
    routes = write_routes(app, "/api/")
    assert len(routes) >= 10
    client = app.test_client()
    headers = {**auth, "Content-Type": "application/json"}

    @settings(max_examples=examples, deadline=None, suppress_health_check=FIXTURES)
    @given(route=st.sampled_from(routes), body=BODY | DEEP)
    def post(route: tuple[str, str], body: Any) -> None:
        method, path = route
        response = client.open(path, method=method, data=as_json(body), headers=headers)
        assert response.status_code < 500, (method, path, response.get_data(as_text=True))

    post()


def test_no_write_endpoint_answers_5xx(app: Flask, auth: dict[str, str]) -> None:
    _fuzz(app, auth, examples=150)


@pytest.mark.slow
def test_no_write_endpoint_answers_5xx_many(app: Flask, auth: dict[str, str]) -> None:
    _fuzz(app, auth, examples=3000)
