"""The template context: the portal link is the case's signed link, never its external id."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

from engine.access.portal_links import SAMPLE_TOKEN, read_token
from engine.delivery.rendering import case_context

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _case(**overrides: object) -> SimpleNamespace:
    values: dict[str, object] = {
        "locale": "de_DE",
        "amount_original": Decimal("10.00"),
        "amount_open": Decimal("10.00"),
        "debtor_name": "Erika",
        "reference": None,
        "external_id": "A B?x#1",
        "currency": "EUR",
        "due_date": date(2026, 3, 1),
        "promise_date": None,
        "attributes": {},
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def test_the_portal_link_is_a_signed_token_of_the_case_not_its_id() -> None:
    context = case_context(_case(id=42, portal_link_gen=3), NOW, "https://p.example/p/", "X")

    base, token = context["portal_url"].rsplit("/", 1)
    assert base == "https://p.example/p"
    assert "A B" not in token and "A%20B" not in token
    assert read_token(token, NOW) == (42, 3)


def test_a_sample_case_without_a_row_links_to_a_page_that_opens_nothing() -> None:
    context = case_context(_case(), NOW, "https://p.example/p", "X")

    assert context["portal_url"] == f"https://p.example/p/{SAMPLE_TOKEN}"


def _deadline(now: datetime, *args: object, **case: object) -> str:
    return case_context(_case(id=1, portal_link_gen=1, **case), now, "https://p/", "X")["deadline"](
        *args
    )


def test_a_deadline_in_business_days_skips_weekends_and_the_regions_holidays() -> None:
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)  # the day before Epiphany (Bavaria only)

    assert _deadline(monday, 5, True, country="DE", subdivision="BY") == "13. Januar 2026"
    assert _deadline(monday, 5, True, country="DE", subdivision="BE") == "12. Januar 2026"


def test_a_deadline_on_a_saturday_ends_on_the_monday_after_bgb_193() -> None:
    friday = datetime(2026, 3, 6, 9, tzinfo=UTC)

    assert _deadline(friday, 8, country="DE", subdivision=None) == "16. März 2026"
    assert _deadline(friday, 7, country="DE", subdivision=None) == "13. März 2026"
