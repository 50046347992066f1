"""The `mahnwerk` command line, run in-process against a temporary SQLite database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine import Database, record_event
from mahnwerk.cli import main
from tests.factories import example_doc, make_case, publish

EXAMPLES = Path(__file__).resolve().parents[2] / "journeys_examples"
MINIMAL = EXAMPLES / "minimal.json"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("MAHNWERK_INSTANCE", str(tmp_path / "instance"))  # init's session key
    return CliRunner()


def broken_document(tmp_path: Path) -> Path:
    doc = json.loads(MINIMAL.read_text())
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "wait_14"]
    doc["nodes"][1]["params"]["days"] = "seven"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    return path


def test_validate_accepts_a_valid_journey(runner: CliRunner) -> None:
    result = runner.invoke(main, ["validate", str(MINIMAL)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_validate_names_node_and_field_and_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["validate", str(broken_document(tmp_path))])
    assert result.exit_code == 2
    assert "node 'wait_7', field 'params.days': Not a valid integer." in result.output


def test_validate_reports_broken_json_with_line_and_column(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"key":\n  oops}')
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "not valid JSON at line 2, column 3" in result.output


@pytest.mark.parametrize("command", ["validate", "compile", "simulate"])
def test_an_unknown_template_filter_is_a_problem_not_a_traceback(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    # Issue 15, point 9a.
    doc = json.loads(MINIMAL.read_text())
    doc["templates"]["reminder"]["variants"][0]["body"] = "{{ amount_open|nosuchfilter }}"
    path = tmp_path / "filter.json"
    path.write_text(json.dumps(doc))

    result = runner.invoke(main, [command, str(path)])

    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (
        "Template 'reminder' (email, en-GB, tone 1) of journey 'minimal': "
        "unknown filter 'nosuchfilter' on line 1." in result.output
    )


# Issue 15, point 9b: journey files in other encodings, too large, not JSON, not an object.
COMMANDS = ["validate", "compile", "simulate"]
_TEXT = MINIMAL.read_text(encoding="utf-8").replace("friendly", "fr\u00fcndly")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    "raw",
    [
        _TEXT.encode("utf-8-sig"),
        _TEXT.encode("utf-16"),  # with the byte order mark of the machine's order
        b"\xff\xfe" + _TEXT.encode("utf-16-le"),
        b"\xfe\xff" + _TEXT.encode("utf-16-be"),
    ],
    ids=["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"],
)
def test_a_journey_file_with_a_byte_order_mark_is_read(
    runner: CliRunner, tmp_path: Path, command: str, raw: bytes
) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(raw)
    args = [command, str(path)] + (["--cases", "5", "--days", "3"] if command == "simulate" else [])
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output


def _offset_of_u_umlaut() -> int:
    return _TEXT.encode("latin-1").index(b"\xfc")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (
            _TEXT.encode("latin-1"),
            f"not UTF-8 text: byte {_offset_of_u_umlaut()} (0xfc) cannot be read; "
            "save the file as UTF-8 (UTF-16 with a byte order mark is read too).",
        ),
        (_TEXT.encode("utf-16-le"), "not UTF-8 text: byte 1 (0x00) cannot be read"),
        (b"\xff\xfe{\x00}", "starts with a UTF-16 byte order mark, but byte 4 cannot be read"),
        (b"hello", "not valid JSON at line 1, column 1: Expecting value."),
        (b"[1, 2]", "journey: The document must be a JSON object."),
        (b"[" * 100_000 + b"]" * 100_000, "journey: The JSON is nested more than 64 levels"),
        (b'{"name": "a\\u0000b"}', "journey, field 'name': This text holds a NUL character"),
        (
            b'{"x": "' + b"a" * (5 * 1024 * 1024) + b'"}',
            "the file is larger than 5 MB; a journey document is smaller.",
        ),
    ],
    ids=["latin-1", "utf-16-no-bom", "utf-16-cut", "not-json", "list", "deep", "nul", "6-mb"],
)
def test_a_file_that_holds_no_journey_is_named_with_exit_2(
    runner: CliRunner, tmp_path: Path, command: str, raw: bytes, words: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(raw)
    result = runner.invoke(main, [command, str(path)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert f"{path}: " in result.output and words in result.output


def test_a_file_that_is_not_utf8_reads_in_german(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(_TEXT.encode("latin-1"))
    result = runner.invoke(main, ["validate", "--lang", "de", str(path)])
    assert result.exit_code == 2
    assert f"{path}: kein UTF-8-Text: Byte {_offset_of_u_umlaut()} (0xfc)" in result.output


def test_compile_prints_readable_sentences(runner: CliRunner) -> None:
    result = runner.invoke(main, ["compile", str(MINIMAL)])
    assert result.exit_code == 0, result.output
    assert (
        "When a case arrives at 'Large amount?' and the open amount is above 100 EUR, "
        "go to 'Second reminder'." in result.output
    )
    assert "At any step, when a payment leaves nothing open" in result.output


def test_compile_json_prints_a_durable_ruleset(runner: CliRunner) -> None:
    result = runner.invoke(main, ["compile", "--json", str(MINIMAL)])
    ruleset = json.loads(result.output)
    (name,) = ruleset
    assert name.startswith("minimal.vdraft.")
    assert "catch_all" in ruleset[name]


def test_simulate_json_has_the_documented_keys(runner: CliRunner) -> None:
    result = runner.invoke(
        main, ["simulate", str(MINIMAL), "--cases", "50", "--days", "30", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"cases", "days", "messages", "outcomes", "suppressed", "open"} <= set(data)
    assert data["cases"] == 50
    assert sum(data["outcomes"].values()) == 50


def test_simulate_says_how_the_portfolio_started(runner: CliRunner) -> None:
    result = runner.invoke(main, ["simulate", str(MINIMAL), "--cases", "20", "--days", "2"])

    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Cases started already due; consent on record: sms ")


def test_simulate_is_reproducible_with_a_seed(runner: CliRunner) -> None:
    args = ["simulate", str(MINIMAL), "--cases", "40", "--days", "20", "--seed", "9", "--json"]
    assert runner.invoke(main, args).output == runner.invoke(main, args).output


def test_simulate_shows_messages_that_fail_to_render(runner: CliRunner, tmp_path: Path) -> None:
    doc = json.loads(MINIMAL.read_text())
    for variant in doc["templates"]["reminder"]["variants"]:
        variant["body"] = "Pay {{ 1 // 0 }}"
    path = tmp_path / "failing.json"
    path.write_text(json.dumps(doc))

    result = runner.invoke(main, ["simulate", str(path), "--cases", "10", "--days", "10"])

    assert result.exit_code == 0, result.output
    assert "Cases stopped by an engine error: none" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Messages not sent")]
    assert lines and "failed to render: integer division or modulo by zero" in lines[0]


def test_init_then_tick_advances_demo_cases(runner: CliRunner) -> None:
    init = runner.invoke(main, ["init", "--demo"])
    assert init.exit_code == 0, init.output
    assert "Published example journey 'minimal'" in init.output
    assert "admin@mahnwerk.local" in init.output
    again = runner.invoke(main, ["init", "--demo"])
    assert "Published" not in again.output  # idempotent
    tick = runner.invoke(main, ["tick", "--now", "2030-01-01T09:00:00Z"])
    assert tick.exit_code == 0, tick.output
    assert " 0 cases advanced" not in tick.output


def test_tick_releases_a_hold_whose_until_day_has_come(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["init"]).exit_code == 0
    db = Database(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    with db.transaction() as session:
        case = make_case(session, publish(session, example_doc("minimal"), now), now)
        payload = {"kind": "cease_contact", "until": "2026-03-05"}
        record_event(session, case.external_id, "cc", "cease_contact", payload, now)
    db.dispose()
    held = runner.invoke(main, ["tick", "--now", "2026-03-02T09:00:00Z"])
    early = runner.invoke(main, ["tick", "--now", "2026-03-04T22:00:00Z"])
    on_the_day = runner.invoke(main, ["tick", "--now", "2026-03-04T23:00:00Z"])

    assert held.exit_code == 0, held.output
    assert " 0 holds released" in early.output
    assert " 1 holds released" in on_the_day.output and "1 events applied" in on_the_day.output


def test_tick_rejects_a_bad_time(runner: CliRunner) -> None:
    runner.invoke(main, ["init"])
    result = runner.invoke(main, ["tick", "--now", "yesterday"])
    assert result.exit_code == 2
    assert "'yesterday' is not an ISO date-time" in result.output


def test_user_add_refuses_an_unknown_role(runner: CliRunner) -> None:
    runner.invoke(main, ["init"])
    result = runner.invoke(main, ["user", "add", "a@b.org", "--role", "boss"])
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output


def test_user_add_refuses_a_duplicate(runner: CliRunner) -> None:
    runner.invoke(main, ["init"])
    runner.invoke(main, ["user", "add", "a@b.org", "--role", "viewer"])
    result = runner.invoke(main, ["user", "add", "A@b.org", "--role", "viewer"])
    assert result.exit_code == 1
    assert "A user a@b.org exists already." in result.output


def test_import_cases_reports_bad_rows_and_is_idempotent(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["init"])
    csv = tmp_path / "cases.csv"
    csv.write_text(
        "external_id,debtor_name,email,country,currency,amount,due_date\n"
        "INV-1,Erika Muster,erika@example.org,DE,EUR,89.00,2026-11-01\n"
        "INV-2,Max Muster,max@example.org,DE,EUR,abc,2026-11-01\n"
    )
    first = runner.invoke(main, ["import-cases", str(csv), "--journey", "minimal"])
    assert first.exit_code == 2
    assert "line 3, column 'amount'" in first.output
    assert "1 imported, 0 unchanged, 1 rows with errors." in first.output
    again = runner.invoke(main, ["import-cases", str(csv), "--journey", "minimal"])
    assert "0 imported, 1 unchanged" in again.output


def test_import_cases_names_an_unknown_journey(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["init"])
    csv = tmp_path / "cases.csv"
    csv.write_text("external_id\nX\n")
    result = runner.invoke(main, ["import-cases", str(csv), "--journey", "nope"])
    assert result.exit_code == 1
    assert "nope" in result.output


def test_serve_offers_workers_threads_and_its_scheduler(runner: CliRunner) -> None:
    result = runner.invoke(main, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--workers", "--threads", "--scheduler / --no-scheduler"):
        assert option in result.output


def test_validate_lists_compliance_findings_and_fails_only_on_block(
    runner: CliRunner, tmp_path: Path
) -> None:
    doc = json.loads(MINIMAL.read_text())
    variant = doc["templates"]["reminder"]["variants"][0]
    variant["body"] += "\nPlease act now."
    path = tmp_path / "warning.json"
    path.write_text(json.dumps(doc))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: journey, field 'templates.reminder.en-GB.tone1.body'" in result.output
    assert "EN-TONE-FINAL (HIGH)" in result.output
    variant["body"] += "\nOur bailiffs will call."
    path.write_text(json.dumps(doc))
    result = runner.invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert "EN-TONE-LAWYER (BLOCK)" in result.output


def test_analytics_recount_rebuilds_the_facts_of_a_demo_run(runner: CliRunner) -> None:
    assert runner.invoke(main, ["init", "--demo"]).exit_code == 0
    assert runner.invoke(main, ["tick"]).exit_code == 0
    result = runner.invoke(main, ["analytics-recount"])
    assert result.exit_code == 0, result.output
    assert "cases' facts" in result.output
    assert not result.output.startswith("0 ")


def test_simulate_shows_the_tasks_the_agents_worked(runner: CliRunner, tmp_path: Path) -> None:
    from tests.engine.nodes.test_task import call_doc

    path = tmp_path / "calls.json"
    path.write_text(json.dumps(call_doc()))

    result = runner.invoke(
        main, ["simulate", str(path), "--cases", "20", "--days", "3", "--agents", "2"]
    )

    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("Tasks for people"))
    assert line.startswith("Tasks for people (2 per queue and day): ") and line.endswith("worked 6")
