"""The canvas's Check lists compliance findings with their severity (docs/compliance.md)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import example_doc


def test_check_lists_a_warning_without_failing(manager: FlaskClient) -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["body"] += "\nPlease act now."
    answer = manager.post("/journeys/check", json=doc).json
    assert answer["ok"] is True
    (found,) = answer["problems"]
    assert found["severity"] == "warning"
    assert found["field"] == "templates.reminder.en-GB.tone1.body"
    assert "EN-TONE-FINAL (HIGH)" in found["message"]


def test_check_fails_on_a_block_finding(manager: FlaskClient) -> None:
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][1]["body"] += "\nThis is an official notice."
    answer = manager.post("/journeys/check", json=doc).json
    assert answer["ok"] is False
    assert [p["severity"] for p in answer["problems"]] == ["error"]
    assert "EN-TONE-OFFICIAL (BLOCK)" in answer["problems"][0]["message"]


def test_check_gives_each_finding_its_rule_and_grade_for_the_step_badges(
    manager: FlaskClient,
) -> None:
    """The canvas counts a send step's findings by its templates' fields and shows the worst."""
    doc = example_doc("minimal")
    doc["templates"]["reminder"]["variants"][0]["body"] += "\nPlease act now. We will arrest you."
    problems = manager.post("/journeys/check", json=doc).json["problems"]
    graded = {(p["code"], p["grade"], p["field"]) for p in problems if p["grade"]}
    field = "templates.reminder.en-GB.tone1.body"
    assert {("EN-TONE-FINAL", "HIGH", field), ("EN-TONE-ARREST", "BLOCK", field)} <= graded
    sends = [n for n in doc["nodes"] if n["type"] == "send"]
    assert any(n["params"]["template"] == "reminder" for n in sends)
