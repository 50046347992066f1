"""Property-based tests of every operation against the OpenAPI document (bounded).

Driven by hand rather than through schemathesis' pytest plugin, whose lazy fixture loader
does not run on pytest 9; the checks are the same.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BUDGET_SECONDS = 100  # the whole run stays well under two minutes


@pytest.mark.slow
def test_api_conforms(app: Flask, auth: dict[str, str]) -> None:
    """No operation answers with a server error or outside its documented schema."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=auth)
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=timedelta(seconds=5),
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            conforms()
        except Exception as exc:
            raise AssertionError(f"{operation.label}: {exc}") from exc
        assert time.monotonic() - started < BUDGET_SECONDS, operation.label
