"""The `mahnwerk` command line."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import datetime
from typing import Any

import click

from engine.core.clock import as_utc, utcnow
from engine.core.settings import load_settings
from engine.storage.db import Database

EXIT_INVALID = 2


def _db() -> Database:
    return Database(load_settings().database_url)


def _now(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise click.BadParameter(
            f"'{value}' is not an ISO date-time, e.g. 2026-11-23T09:00Z"
        ) from exc


# A journey of 2,000 nodes with its templates is well under 1 MB; more is not a journey.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024


class BadDocument(click.ClickException):
    """A file that holds no journey document: named with the reason, exit code 2."""

    exit_code = EXIT_INVALID


def _read_document(path: str, lang: str = "en") -> Any:
    """A journey document from a file, or a BadDocument saying what is wrong and where.

    UTF-8, or UTF-8 / UTF-16 after a byte order mark; at most MAX_DOCUMENT_BYTES; JSON that
    `load_json` takes (not too deep, no NUL, no lone surrogate).
    """
    from engine.core.inputs import JsonInputError, TextDecodeError, decode_text, load_json
    from engine.core.messages import msg
    from engine.nodes.base import Problem

    def bad(words: Any) -> BadDocument:
        return BadDocument(f"{path}: {words.text(lang)}")

    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise bad(msg("cannot read the file ({error}).", error=exc.strerror)) from exc
    if len(raw) > MAX_DOCUMENT_BYTES:
        mb = MAX_DOCUMENT_BYTES // (1024 * 1024)
        raise bad(msg("the file is larger than {mb} MB; a journey document is smaller.", mb=mb))
    try:
        return load_json(decode_text(raw))
    except TextDecodeError as exc:
        raise bad(exc.words) from None
    except JsonInputError as exc:  # too deep, a NUL, a lone surrogate: where it is
        field = None if exc.field == "_schema" else exc.field
        raise BadDocument(f"{path}: {Problem.of(exc.words, field=field).line(lang)}") from None
    except json.JSONDecodeError as exc:
        words = msg(
            "not valid JSON at line {line}, column {column}: {error}.",
            line=exc.lineno,
            column=exc.colno,
            error=exc.msg,
        )
        raise bad(words) from None


@click.group()
def main() -> None:
    """Mahnwerk: dunning journeys drawn as graphs, compiled to rules, run on a schedule."""


@main.command()
@click.option("--demo/--no-demo", default=False, help="Also load demo users and a demo portfolio.")
def init(demo: bool) -> None:
    """Create or upgrade the database, publish the example journeys, create the first admin."""
    from engine.access.users import add_user
    from engine.core.settings import ensure_secret_key
    from engine.storage.models import UserRow
    from mahnwerk.demo import DEMO_PASSWORD, demo_portfolio, demo_users, publish_examples

    db, now = _db(), utcnow()
    db.create_all()
    click.echo(f"Database ready: {db.url}")
    key_file = ensure_secret_key()
    if key_file is not None:
        click.echo(f"Session key written to {key_file} (readable by you only).")
    for key in publish_examples(db, now):
        click.echo(f"Published example journey '{key}'.")
    if demo:
        for email, role in demo_users(db, now):
            click.echo(f"Demo user {email} ({role}), password: {DEMO_PASSWORD}")
        created = demo_portfolio(db, now)
        if created:
            click.echo(f"Opened {created} demo cases.")
        click.echo(f"Log in as admin@mahnwerk.local with the password {DEMO_PASSWORD}.")
        return
    with db.transaction() as session:
        if session.query(UserRow).count() == 0:
            password = secrets.token_urlsafe(12)
            add_user(session, "admin@mahnwerk.local", password, "admin", now)
            click.echo(f"First admin: admin@mahnwerk.local, password: {password}")
            click.echo("Log in with it and change it, or add people with `mahnwerk user add`.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Web worker processes, each answering any request (docs/api.md).  [default: one per core]",
)
@click.option(
    "--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Per worker."
)
@click.option(
    "--scheduler/--no-scheduler",
    default=True,
    help="Run tick and dispatch in a process of their own beside the web workers.",
)
def serve(host: str, port: int, workers: int | None, threads: int, scheduler: bool) -> None:
    """Serve the designer and API, with the scheduler beside it (the single-machine default)."""
    from mahnwerk.serve import default_workers
    from mahnwerk.serve import serve as run
    from mahnwerk.wsgi import UnsafeSecretKey, refuse_unsafe_key

    try:  # before any worker starts: each would refuse, and Granian would respawn it forever
        refuse_unsafe_key(load_settings().secret_key)
    except UnsafeSecretKey as exc:
        raise click.ClickException(str(exc)) from exc
    run(host, port, workers or default_workers(), threads, scheduler, announce=click.echo)


@main.command()
def worker() -> None:
    """Run tick and dispatch on the scheduler in this process, without the web app."""
    from engine.ops.process import run_scheduler
    from engine.storage.migrate import SchemaOutdated, check_schema

    try:
        check_schema(_db())
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Worker started; Ctrl+C stops it.")
    run_scheduler()


@main.command()
@click.option("--now", "now_text", default=None, help="ISO date-time to tick at (default: now).")
def tick(now_text: str | None) -> None:
    """Release the holds whose until day has come, advance every due case once, then dispatch
    due messages."""
    from engine.delivery.dispatcher import Dispatcher
    from engine.intake.hold_until import release_holds
    from engine.run.runtime import Runtime

    db, now = _db(), _now(now_text)
    with db.transaction() as session:  # what the scheduler's holds job does, before the tick
        released = release_holds(session, now)
    report = Runtime(db, batch_size=load_settings().batch_size).tick(now)
    sent = Dispatcher(db).dispatch(now)
    click.echo(
        f"{now.isoformat()}: {released} holds released, {report.cases} cases advanced, "
        f"{report.transitions} transitions, "
        f"{report.messages} messages queued, {report.suppressed} suppressed, {report.closed} "
        f"closed, {report.events} events applied, {report.errors} stopped with errors; "
        f"dispatch: {sent.sent} sent, {sent.deferred} deferred, {sent.suppressed} suppressed, "
        f"{sent.retried} to retry, {sent.failed} failed, {sent.dead} dead-lettered."
    )


@main.command(name="analytics-recount")
def analytics_recount() -> None:
    """Rebuild the analytics facts and counters from the audit trail (docs/analytics.md)."""
    from engine.analytics.recount import rebuild_facts

    with _db().transaction() as session:
        counted = rebuild_facts(session)
    click.echo(
        f"{len(counted.facts)} cases' facts, {len(counted.exposures)} experiment exposures and "
        f"{len(counted.steps)} step counters rebuilt from the audit trail."
    )


# The language of problems and rule sentences (engine/core/messages.py); default English.
_LANG_OPTION = click.option(
    "--lang",
    type=click.Choice(("en", "de")),
    default="en",
    show_default=True,
    help="Language of problems and rules.",
)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@_LANG_OPTION
def validate(files: tuple[str, ...], lang: str) -> None:
    """Check journey documents; one line per problem; exit 2 when any is invalid."""
    from engine.authoring.validation import validate_document
    from engine.core.messages import msg

    invalid = False
    for path in files:
        try:
            doc = _read_document(path, lang)
        except BadDocument as exc:
            click.echo(exc.message)
            invalid = True
            continue
        _, problems = validate_document(doc)
        for problem in problems:
            click.echo(f"{path}: {problem.line(lang)}")
        if any(p.blocks for p in problems):  # warnings are listed but do not fail
            invalid = True
        elif not problems:
            valid = msg("valid").text(lang)
            click.echo(f"{path}: {valid}")
    sys.exit(EXIT_INVALID if invalid else 0)


@main.command(name="compile")
@click.argument("file", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the durable_rules ruleset.")
@_LANG_OPTION
def compile_(file: str, as_json: bool, lang: str) -> None:
    """Print a journey's rules as sentences (or --json as the ruleset)."""
    from engine.authoring.validation import validate_document
    from engine.core.messages import msg
    from engine.rules.compiler import compile_journey
    from engine.rules.sentences import journey_sentences, policy_sentences

    journey, problems = validate_document(_read_document(file, lang))
    if journey is None or any(p.blocks for p in problems):
        for problem in problems:
            click.echo(f"{file}: {problem.line(lang)}", err=True)
        sys.exit(EXIT_INVALID)
    compiled = compile_journey(journey)
    if as_json:
        click.echo(json.dumps(compiled.definition(), indent=2, ensure_ascii=False))
        return
    click.echo(
        msg(
            "Journey '{name}' (ruleset {ruleset}):", name=journey.name, ruleset=compiled.ruleset
        ).text(lang)
    )
    for sentence in journey_sentences(compiled, journey, lang):
        click.echo(f"- {sentence}")
    click.echo(msg("Policy rules, checked first for every journey:").text(lang))
    for sentence in policy_sentences(lang):
        click.echo(f"- {sentence}")


@main.command(name="import-cases")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--journey", "journey_key", required=True, help="Key of a published journey.")
def import_cases_cmd(file: str, journey_key: str) -> None:
    """Import cases from CSV; bad rows are reported by line and column, good rows imported."""
    from engine.intake.importer import CaseImportError, import_cases

    try:
        report = import_cases(_db(), file, journey_key, utcnow())
    except CaseImportError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for error in report.errors:
        click.echo(f"{file}: {error}")
    click.echo(
        f"{report.imported} imported, {report.unchanged} unchanged, "
        f"{len(report.errors)} rows with errors."
    )
    sys.exit(EXIT_INVALID if report.errors else 0)


@main.command()
@click.argument("file", type=click.Path())
@click.option("--cases", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--days", default=60, show_default=True, type=click.IntRange(1, 730))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--cases-per-debtor",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Give the cases debtors with this many invoices on average (0: one case, one person).",
)
@click.option(
    "--agents",
    default=20,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Tasks the agents work per queue and day (task steps).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate(
    file: str,
    cases: int,
    days: int,
    seed: int,
    cases_per_debtor: float,
    agents: int,
    as_json: bool,
) -> None:
    """Run a synthetic portfolio through a journey on a virtual clock."""
    from engine.authoring.versions import InvalidJourney
    from engine.simulation import simulate as run

    doc = _read_document(file)
    try:
        result = run(
            doc,
            cases=cases,
            days=days,
            seed=seed,
            cases_per_debtor=cases_per_debtor,
            agents=agents,
        )
    except InvalidJourney as exc:
        for problem in exc.problems:
            click.echo(f"{file}: {problem}", err=True)
        sys.exit(EXIT_INVALID)
    data = result.to_json()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{cases} cases, {days} days, seed {seed}")
    click.echo(
        " day  "
        + "  ".join(f"{c:>7}" for c in ("email", "sms", "letter", "webhook"))
        + "  suppressed  closed     open"
    )
    for day in data["per_day"]:
        counts = "  ".join(
            f"{day['messages'].get(c, 0):>7}" for c in ("email", "sms", "letter", "webhook")
        )
        click.echo(
            f"{day['day']:>4}  {counts}  {sum(day['suppressed'].values()):>10}  "
            f"{day['closed']:>6}  {day['open']:>7}"
        )
    click.echo(f"Messages by channel: {_pairs(data['messages'])}")
    click.echo(f"Outcomes: {_pairs(data['outcomes'])}")
    click.echo(f"Outcomes by end node: {_pairs(data['end_nodes'])}")
    click.echo(f"Suppressed by reason: {_pairs(data['suppressed'])}")
    click.echo(f"Cases stopped by an engine error: {_pairs(data['errors'])}")
    click.echo(f"Messages not sent (render failures, dead letters): {_pairs(data['failed'])}")
    if data.get("tasks"):
        click.echo(f"Tasks for people ({agents} per queue and day): {_pairs(data['tasks'])}")
    click.echo(f"Collected: {data['collected']}; still open: {data['open']}")
    lead = data["pre_due_days"]
    start = f"{lead} to {lead + 6} days before their due date" if lead else "already due"
    click.echo(f"Cases started {start}; consent on record: {_pairs(data['consented'])}")


@main.group()
def statements() -> None:
    """Bank statements: book the payments of CAMT.053 and MT940 files to cases."""


@statements.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", default="cli", show_default=True, help="Who read the file (audit).")
def statements_import(file: str, by: str) -> None:
    """Read a CAMT.053 or MT940 file; payments naming a case are booked once to it."""
    from pathlib import Path

    from connectors.bank_statements import MAX_BYTES
    from engine.payments.reconcile import StatementError, import_statement, line_reason
    from engine.storage.models import StatementLineRow

    path = Path(file)
    if path.stat().st_size > MAX_BYTES:
        raise BadDocument(f"{file}: the file is larger than {MAX_BYTES // 1024} kB")
    try:
        with _db().transaction() as session:
            summary = import_statement(session, path.read_bytes(), path.name, by, utcnow())
            waiting = session.query(StatementLineRow).filter_by(
                import_id=summary.import_id, status="unmatched"
            )
            reasons = [(row.place, line_reason(row)) for row in waiting]
    except StatementError as exc:
        raise BadDocument(f"{file}: {exc}") from exc
    for place, reason in reasons:
        click.echo(f"{file}: {place}: waiting: {reason}")
    click.echo(
        f"{summary.lines} lines, {summary.new} new: {summary.matched} booked to cases, "
        f"{summary.unmatched} waiting for a person, {summary.ignored} not payments."
    )


@main.group()
def audit() -> None:
    """The audit trail: check that nobody changed it (docs/compliance.md)."""


# What each kind of break means, for the reader of `audit verify`.
_BROKEN = {
    "changed": "its content no longer matches its hash: the row was changed after it was written",
    "deleted": "its predecessor is missing: a row before it in the chain was deleted",
    "inserted": "the row was put into the chain after the fact: it was inserted",
    "reordered": "its predecessor comes after it: rows of the chain were reordered",
}


@audit.command(name="verify")
def audit_verify() -> None:
    """Check every audit row's hash chain; name the first broken row (exit 2)."""
    from engine.storage.audit_chain import verify

    with _db().engine.connect() as connection:
        verdict = verify(connection)
    if verdict.broken is not None:
        broken = verdict.broken
        chain = "system chain" if broken.case_id is None else f"case {broken.case_id}"
        click.echo(
            f"Audit trail broken at row {broken.id} ({chain}): {broken.what}: "
            f"{_BROKEN[broken.what]}."
        )
        sys.exit(EXIT_INVALID)
    start = (
        f"chained from row {verdict.first_chained}"
        if verdict.first_chained is not None
        else "no chained rows yet"
    )
    click.echo(
        f"Audit trail intact: {verdict.rows} rows in {verdict.chains} chains, {start}; "
        f"{verdict.unchained} rows written before the chain began are not chained. "
        f"Head: {verdict.head}"
    )


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


@main.group()
def user() -> None:
    """Manage the people who sign in to the designer."""


@user.command(name="add")
@click.argument("email")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["manager", "reviewer", "admin", "viewer", "collector"]),
)
@click.option("--password", default=None, help="Default: a generated one, printed once.")
def user_add(email: str, role: str, password: str | None) -> None:
    """Add a user with a role."""
    from engine.access.users import UserError, add_user

    password = password or secrets.token_urlsafe(12)
    try:
        with _db().transaction() as session:
            add_user(session, email, password, role, utcnow())
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Added {email.lower()} as {role}; password: {password}")


def _add_subcommands() -> None:
    from mahnwerk.journeys import journey
    from mahnwerk.tokens import token

    main.add_command(token)
    main.add_command(journey)


_add_subcommands()

if __name__ == "__main__":
    main()
