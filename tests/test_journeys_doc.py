"""The journey written out in docs/journeys.md validates, so the doc stays true."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from engine import validate_document

DOC = Path(__file__).resolve().parents[1] / "docs" / "journeys.md"


def section_json(heading: str) -> dict[str, Any]:
    """The first ```json block under a heading of docs/journeys.md."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block, f"no JSON block under {heading!r}"
    return json.loads(block.group(1))


def test_erp_follow_up_levels_validate_without_problems() -> None:
    doc = section_json("### An ERP's follow-up levels")
    journey, problems = validate_document(doc)
    assert journey is not None
    assert [str(p) for p in problems] == []
    types = {n["type"] for n in doc["nodes"]}
    assert {"wait", "send", "fee", "task", "webhook"} <= types
    waits = [n["params"]["days"] for n in doc["nodes"] if n["type"] == "wait"]
    assert waits == [5, 15, 30]  # the ERP's levels, in days after the due date
    level2 = next(n for n in doc["nodes"] if n["id"] == "level2")
    assert level2["params"]["attach"] == ["invoice"]  # the ERP sends the invoice along


def test_erp_follow_up_levels_break_when_a_template_goes_missing() -> None:
    doc = section_json("### An ERP's follow-up levels")
    del doc["templates"]["level3_letter"]
    _, problems = validate_document(doc)
    assert any("level3_letter" in str(p) for p in problems)
