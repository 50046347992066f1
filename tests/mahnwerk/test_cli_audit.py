"""`mahnwerk audit verify`: exit 0 on an intact trail, 2 naming the first broken row."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from engine.storage.db import Database
from engine.storage.models import AuditRow
from mahnwerk.cli import main


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path / "instance"))
    return CliRunner()


def ticked(runner: CliRunner) -> None:
    """The demo portfolio after two daily ticks: chains of several rows per case."""
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    for day in ("2030-01-01T09:00:00Z", "2030-01-09T09:00:00Z"):
        assert runner.invoke(main, ["tick", "--now", day]).exit_code == 0


def test_an_intact_trail_exits_0_with_its_head(runner: CliRunner, tmp_path: Path) -> None:
    ticked(runner)

    result = runner.invoke(main, ["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Audit trail intact: ")
    assert "rows in" in result.output and "chained from row 1;" in result.output
    assert "0 rows written before the chain began are not chained" in result.output
    head = result.output.strip().rsplit("Head: ", 1)[1]
    assert len(head) == 64
    assert runner.invoke(main, ["audit", "verify"]).output == result.output  # stable


def test_a_changed_row_exits_2_naming_it(runner: CliRunner, tmp_path: Path) -> None:
    ticked(runner)
    db = Database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    with db.transaction() as session:
        victim = session.scalars(
            select(AuditRow).where(AuditRow.kind == "transition").order_by(AuditRow.id)
        ).first()
        assert victim is not None
        victim_id, case_id = victim.id, victim.case_id
        session.execute(update(AuditRow).where(AuditRow.id == victim_id).values(rule="forged"))
    db.dispose()

    result = runner.invoke(main, ["audit", "verify"])

    assert result.exit_code == 2
    assert result.output == (
        f"Audit trail broken at row {victim_id} (case {case_id}): changed: its content no "
        "longer matches its hash: the row was changed after it was written.\n"
    )
