"""`mahnwerk journey ...`: submit, approve, request changes, publish, pause, retire, history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine import Database, load_settings, save_version, utcnow
from mahnwerk.cli import main

MINIMAL = Path(__file__).resolve().parents[2] / "journeys_examples" / "minimal.json"
MANAGER, REVIEWER = "manager@example.org", "reviewer@example.org"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A database with the examples published, a manager, a reviewer and a draft v2 of minimal."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path / "instance"))  # init's session key
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    for email, role in ((MANAGER, "manager"), (REVIEWER, "reviewer")):
        assert runner.invoke(main, ["user", "add", email, "--role", role]).exit_code == 0
    doc = json.loads(MINIMAL.read_text())
    doc["name"] = "Minimal, second edition"
    db = Database(load_settings().database_url)
    with db.transaction() as session:
        save_version(session, doc, utcnow(), author=MANAGER)
    db.dispose()
    return runner


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, ["journey", *args])


def test_the_whole_way_live(runner: CliRunner) -> None:
    submitted = run(runner, "submit", "minimal", "2", "--as", MANAGER, "--note", "ready")
    assert submitted.exit_code == 0, submitted.output

    own = run(runner, "approve", "minimal", "2", "--as", MANAGER)
    assert own.exit_code == 1 and "may not approve a version" in own.output

    approved = run(runner, "approve", "minimal", "2", "--as", REVIEWER, "--note", "fine")
    assert "1 approval(s), approved" in approved.output

    preview = run(runner, "publish", "minimal", "2", "--dry-run")
    assert "0 running cases could move, 0 stay." in preview.output

    published = run(runner, "publish", "minimal", "2", "--move-running")
    assert published.exit_code == 0, published.output
    assert "Published version 2 of 'minimal' (superseded: 1); 0 running cases moved" in (
        published.output
    )

    history = run(runner, "history", "minimal", "2")
    lines = history.output.splitlines()
    assert [line.split()[2] for line in lines] == ["submitted", "approved", "published"]
    assert "reviewer@example.org (reviewer): fine" in lines[1]


def test_pause_unpause_retire(runner: CliRunner) -> None:
    assert "is paused" in run(runner, "pause", "minimal", "--note", "typo").output
    again = run(runner, "pause", "minimal")
    assert again.exit_code == 1 and "'paused': only a live journey can be paused" in again.output
    assert "runs again" in run(runner, "unpause", "minimal").output
    assert "is retired" in run(runner, "retire", "minimal").output
    german = run(runner, "pause", "minimal", "--lang", "de")
    assert "außer Dienst" in german.output


def test_request_changes_needs_a_reviewer_and_a_note(runner: CliRunner) -> None:
    run(runner, "submit", "minimal", "2")
    sent_back = run(
        runner, "request-changes", "minimal", "2", "--as", REVIEWER, "--note", "Friendlier"
    )
    assert sent_back.exit_code == 0, sent_back.output
    late = run(runner, "approve", "minimal", "2", "--as", REVIEWER)
    assert late.exit_code == 1 and "'changes requested', not 'in review'" in late.output


def test_a_comment_on_a_step(runner: CliRunner) -> None:
    said = run(
        runner, "comment", "minimal", "2", "--as", REVIEWER, "--note", "7?", "--on", "wait_7"
    )
    assert said.exit_code == 0, said.output
    assert "commented" in run(runner, "history", "minimal").output


def test_a_publish_can_be_scheduled(runner: CliRunner) -> None:
    run(runner, "submit", "minimal", "2")
    run(runner, "approve", "minimal", "2", "--as", REVIEWER)
    later = run(runner, "publish", "minimal", "2", "--at", "2099-01-01T06:00Z")
    assert "will be published at 2099-01-01T06:00:00+00:00" in later.output
    bad = run(runner, "publish", "minimal", "2", "--at", "soon")
    assert bad.exit_code == 2 and "not an ISO date-time" in bad.output


def test_submitting_a_draft_with_problems_lists_them(runner: CliRunner) -> None:
    doc = json.loads(MINIMAL.read_text())
    doc["templates"] = {}
    db = Database(load_settings().database_url)
    with db.transaction() as session:
        save_version(session, doc, utcnow(), author=MANAGER, allow_problems=True)
    db.dispose()
    result = run(runner, "submit", "minimal", "3")
    assert result.exit_code == 2
    assert "fix them before submitting" in result.output and "\n- " in result.output


def test_approvals_needed_and_unknown_users(runner: CliRunner) -> None:
    assert "needs 2 approval(s)" in run(runner, "approvals", "minimal", "2").output
    nobody = run(runner, "approve", "minimal", "2", "--as", "nobody@example.org")
    assert nobody.exit_code == 1 and "no user 'nobody@example.org'" in nobody.output
