"""`mahnwerk token add/list/revoke`: API tokens for host systems (the lead adds it to main)."""

from __future__ import annotations

import click

from engine.access.api_tokens import SCOPES, TokenError, create_token, list_tokens, revoke_token
from engine.core.clock import utcnow
from engine.core.settings import load_settings
from engine.storage.db import Database


def _db() -> Database:
    return Database(load_settings().database_url)


@click.group()
def token() -> None:
    """API tokens: shown once at creation, stored as sha256."""


@token.command("add")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=("read",),
    show_default=True,
    help="Repeat for several; write includes read.",
)
def add(name: str, scopes: tuple[str, ...]) -> None:
    """Create a token and print it (this is the only time it is shown)."""
    try:
        with _db().transaction() as session:
            row, secret = create_token(session, name, list(scopes), utcnow())
            click.echo(f"Token {row.id} ({', '.join(row.scopes)}): {secret}")
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc


@token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Also show revoked tokens.")
def list_(include_revoked: bool) -> None:
    """List tokens: id, prefix, scopes, name, last use."""
    with _db().transaction() as session:
        for row in list_tokens(session, include_revoked):
            used = row.last_used_at.isoformat(timespec="minutes") if row.last_used_at else "never"
            state = " revoked" if row.revoked_at else ""
            click.echo(
                f"{row.id}\t{row.prefix}…\t{','.join(row.scopes)}\t{row.name}\t{used}{state}"
            )


@token.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke a token by id."""
    try:
        with _db().transaction() as session:
            revoke_token(session, token_id, utcnow())
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Token {token_id} revoked.")
