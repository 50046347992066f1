"""`mahnwerk journey ...`: take a journey version live from the command line.

Who acts: `--as EMAIL` names a designer user, whose role decides what they may do (approve and
request-changes need it: a reviewer other than the version's author and submitter). Without
`--as`, the operator at the console acts with an admin's rights, recorded as `cli:<login>`.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from sqlalchemy.orm import Session

from engine.authoring.lifecycle import (
    Actor,
    HasProblems,
    LifecycleError,
    PublishResult,
    actor_for_user,
    approve_version,
    comment_version,
    pause_journey,
    publish_preview,
    publish_version,
    request_changes,
    retire_journey,
    set_approvals_required,
    submit_version,
    unpause_journey,
    version_history,
)
from engine.core.clock import as_utc, utcnow
from engine.core.settings import load_settings
from engine.storage.db import Database

EXIT_INVALID = 2

_LANG = click.option(
    "--lang",
    type=click.Choice(("en", "de")),
    default="en",
    show_default=True,
    help="Language of the answers.",
)
_NOTE = click.option("--note", default=None, help="Why: kept in the version's history.")
_AS = click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="Act as this designer user (default: the operator, with an admin's rights).",
)


def _db() -> Database:
    return Database(load_settings().database_url)


@contextmanager
def _step(lang: str) -> Iterator[Session]:
    """A transaction whose lifecycle refusals become a message and a non-zero exit."""
    try:
        with _db().transaction() as session:
            yield session
    except HasProblems as exc:
        click.echo(exc.text(lang), err=True)
        for problem in exc.problems:
            click.echo(f"- {problem.line(lang)}", err=True)
        sys.exit(EXIT_INVALID)
    except LifecycleError as exc:
        raise click.ClickException(exc.text(lang)) from exc


def _actor(session: Session, email: str | None) -> Actor:
    if email:
        return actor_for_user(session, email)
    return Actor(f"cli:{getpass.getuser()}", "admin")


def _at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError as exc:
        raise click.BadParameter(
            f"'{value}' is not an ISO date-time, e.g. 2026-12-01T06:00Z"
        ) from exc


@click.group()
def journey() -> None:
    """Submit, review, publish, pause and retire journey versions."""


@journey.command()
@click.argument("key")
@click.argument("version", type=int)
@_NOTE
@_AS
@_LANG
def submit(key: str, version: int, note: str | None, as_email: str | None, lang: str) -> None:
    """Send a draft without problems to review (it cannot change afterwards)."""
    with _step(lang) as session:
        submit_version(session, key, version, _actor(session, as_email), utcnow(), note)
    click.echo(f"Version {version} of '{key}' is in review.")


@journey.command()
@click.argument("key")
@click.argument("version", type=int)
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The reviewer approving.")
@_NOTE
@click.option("--hash", "reviewed", default=None, help="Content hash reviewed (refused if other).")
@_LANG
def approve(
    key: str, version: int, as_email: str, note: str | None, reviewed: str | None, lang: str
) -> None:
    """Approve a version in review as a reviewer (never its author or submitter)."""
    with _step(lang) as session:
        row = approve_version(
            session, key, version, actor_for_user(session, as_email), utcnow(), note, reviewed
        )
        status, approvals = row.status, row.approvals
    click.echo(f"Version {version} of '{key}': {approvals} approval(s), {status}.")


@journey.command(name="request-changes")
@click.argument("key")
@click.argument("version", type=int)
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="The reviewer.")
@click.option("--note", required=True, help="What should change.")
@_LANG
def request_changes_cmd(key: str, version: int, as_email: str, note: str, lang: str) -> None:
    """Send a version back: it stays as history, the author edits a new draft."""
    with _step(lang) as session:
        request_changes(session, key, version, actor_for_user(session, as_email), utcnow(), note)
    click.echo(f"Version {version} of '{key}': changes requested.")


@journey.command()
@click.argument("key")
@click.argument("version", type=int)
@click.option("--as", "as_email", required=True, metavar="EMAIL", help="Who comments.")
@click.option("--note", required=True, help="The comment.")
@click.option("--on", "anchor", default=None, help="A step's id, or template:<key>.")
@_LANG
def comment(
    key: str, version: int, as_email: str, note: str, anchor: str | None, lang: str
) -> None:
    """Comment on a version, optionally on one step or template."""
    with _step(lang) as session:
        actor = actor_for_user(session, as_email)
        comment_version(session, key, version, actor, utcnow(), note, anchor)
    click.echo(f"Comment on version {version} of '{key}' saved.")


@journey.command()
@click.argument("key")
@click.argument("version", type=int)
@click.option("--at", "at_text", default=None, help="ISO date-time: publish then (the tick does).")
@click.option(
    "--move-running",
    is_flag=True,
    help="Move running cases whose step exists in the new version (same id and type).",
)
@click.option("--dry-run", is_flag=True, help="Only show what would happen to running cases.")
@_NOTE
@_AS
@_LANG
def publish(
    key: str,
    version: int,
    at_text: str | None,
    move_running: bool,
    dry_run: bool,
    note: str | None,
    as_email: str | None,
    lang: str,
) -> None:
    """Publish an approved version now or at --at; prints what happens to running cases."""
    with _step(lang) as session:
        if dry_run:
            preview = publish_preview(session, key, version)
            for line in preview.lines(lang):
                click.echo(line)
            click.echo(f"{preview.movable} running cases could move, {preview.staying} stay.")
            return
        result = publish_version(
            session,
            key,
            version,
            _actor(session, as_email),
            utcnow(),
            move=move_running,
            at=_at(at_text),
            note=note,
        )
    _print_result(result, lang)


def _print_result(result: PublishResult, lang: str) -> None:
    if result.scheduled_for is not None:
        click.echo(
            f"Version {result.version} of '{result.journey}' will be published at "
            f"{result.scheduled_for.isoformat()}."
        )
        return
    superseded = ", ".join(str(n) for n in result.superseded) or "none"
    click.echo(
        f"Published version {result.version} of '{result.journey}' (superseded: {superseded}); "
        f"{result.moved} running cases moved, {result.staying} stayed on their version."
    )
    for stayed in result.stayed:
        click.echo(f"- {stayed.words().text(lang)}")


def _journey_step(
    step: Callable[..., Any], done: str
) -> Callable[[str, str | None, str | None, str], None]:
    def run(key: str, note: str | None, as_email: str | None, lang: str) -> None:
        with _step(lang) as session:
            step(session, key, _actor(session, as_email), utcnow(), note)
        click.echo(f"Journey '{key}' {done}.")

    return run


@journey.command()
@click.argument("key")
@_NOTE
@_AS
@_LANG
def pause(key: str, note: str | None, as_email: str | None, lang: str) -> None:
    """Pause a live journey: no new cases; running cases wait at their step."""
    _journey_step(pause_journey, "is paused")(key, note, as_email, lang)


@journey.command()
@click.argument("key")
@_NOTE
@_AS
@_LANG
def unpause(key: str, note: str | None, as_email: str | None, lang: str) -> None:
    """Let a paused journey run again; its waiting cases go on at the next tick."""
    _journey_step(unpause_journey, "runs again")(key, note, as_email, lang)


@journey.command()
@click.argument("key")
@_NOTE
@_AS
@_LANG
def retire(key: str, note: str | None, as_email: str | None, lang: str) -> None:
    """Retire a journey: no new cases or versions; running cases finish on their version."""
    _journey_step(retire_journey, "is retired")(key, note, as_email, lang)


@journey.command()
@click.argument("key")
@click.argument("count", type=int)
@_AS
@_LANG
def approvals(key: str, count: int, as_email: str | None, lang: str) -> None:
    """Set how many reviewer approvals a version of the journey needs (default 1)."""
    with _step(lang) as session:
        set_approvals_required(session, key, count, _actor(session, as_email), utcnow())
    click.echo(f"Journey '{key}' needs {count} approval(s) per version.")


@journey.command()
@click.argument("key")
@click.argument("version", type=int, required=False)
@_LANG
def history(key: str, version: int | None, lang: str) -> None:
    """The history of a version (or the whole journey): who did what, when and why."""
    with _step(lang) as session:
        entries = version_history(session, key, version)
    for e in entries:
        where = f"v{e.version}" if e.version is not None else "journey"
        anchor = f" on {e.anchor}" if e.anchor else ""
        note = f": {e.note}" if e.note else ""
        click.echo(
            f"{e.at.isoformat(timespec='seconds')}  {where:<8} {e.action:<18} "
            f"{e.actor} ({e.actor_role}){anchor}{note}"
        )
