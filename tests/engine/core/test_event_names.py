"""Every event has a name in words for a case's timeline, in English and German."""

from __future__ import annotations

import pytest

from engine.core.event_types import ALL, EVENT_NAMES, event_name


@pytest.mark.parametrize("event", ALL)
def test_every_event_has_a_name_in_both_languages(event: str) -> None:
    assert event in EVENT_NAMES
    english, german = event_name(event).text("en"), event_name(event).text("de")
    assert "_" not in english and english != german


def test_an_unknown_event_reads_with_spaces() -> None:
    assert event_name("portal_visit").text("de") == "portal visit"
