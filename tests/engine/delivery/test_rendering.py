"""The template context: links built from case data."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from engine.delivery.rendering import case_context


def test_the_portal_link_url_encodes_the_case_id() -> None:
    """Ids go into links encoded: 'A B?x#1' cannot end the path early or start a query."""
    case = SimpleNamespace(
        locale="de_DE",
        amount_original=Decimal("10.00"),
        amount_open=Decimal("10.00"),
        debtor_name="Erika",
        reference=None,
        external_id="A B?x#1",
        currency="EUR",
        due_date=date(2026, 3, 1),
        promise_date=None,
        attributes={},
    )
    context = case_context(case, datetime(2026, 3, 2, tzinfo=UTC), "https://p.example/p/", "X")
    assert context["portal_url"] == "https://p.example/p/A%20B%3Fx%231"
