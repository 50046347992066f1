"""`mahnwerk statements import`: a statement file read from the command line, once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from mahnwerk.cli import main

DATA = Path(__file__).resolve().parents[1] / "connectors" / "data"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    return runner


def test_a_statement_is_read_and_the_waiting_lines_say_why(runner: CliRunner) -> None:
    file = str(DATA / "camt053_v02.xml")

    result = runner.invoke(main, ["statements", "import", file, "--by", "anna"])

    assert result.exit_code == 0, result.output
    assert f"{file}: Ntry 1: waiting: The RF reference RF95MW1 names no case." in result.output
    assert "4 lines, 4 new: 0 booked to cases, 3 waiting for a person, 1 not payments." in (
        result.output
    )
    again = runner.invoke(main, ["statements", "import", file])
    assert "4 lines, 0 new: 0 booked to cases" in again.output


def test_an_mt940_file_is_read_too(runner: CliRunner) -> None:
    result = runner.invoke(main, ["statements", "import", str(DATA / "mt940.sta")])

    assert result.exit_code == 0, result.output
    assert "3 lines, 3 new" in result.output


def test_a_bad_file_names_the_line_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sta"
    bad.write_bytes((DATA / "mt940.sta").read_bytes().replace(b"CR50,00", b"CRabc"))

    result = runner.invoke(main, ["statements", "import", str(bad)])

    assert result.exit_code == 2
    assert "line 10: amount 'abc' is not a number" in result.output
