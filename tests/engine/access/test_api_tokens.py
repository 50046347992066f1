"""API tokens: shown once, stored hashed, scoped, listed and revoked."""

from __future__ import annotations

import pytest

from engine import Database, VirtualClock
from engine.access.api_tokens import (
    TokenError,
    create_token,
    hash_token,
    list_tokens,
    revoke_token,
    verify_token,
)


def test_only_the_hash_is_stored(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        row, token = create_token(session, "billing", ["read"], clock.now)
    assert row.token_hash == hash_token(token) and token not in row.token_hash


def test_a_token_verifies_with_its_scopes(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        _, token = create_token(session, "billing", ["read"], clock.now)
        info = verify_token(session, token, clock.now)
    assert info is not None and info.allows("read") and not info.allows("write")


def test_write_includes_read(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        _, token = create_token(session, "erp", ["write"], clock.now)
        info = verify_token(session, token, clock.now)
    assert info is not None and info.allows("read")


def test_an_unknown_token_does_not_verify(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        assert verify_token(session, "mw_not-a-token", clock.now) is None


def test_a_revoked_token_does_not_verify(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        row, token = create_token(session, "shop", ["read", "write"], clock.now)
        revoke_token(session, row.id, clock.now)
        assert verify_token(session, token, clock.now) is None


def test_revoked_tokens_leave_the_list(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session:
        first, _ = create_token(session, "a", ["read"], clock.now)
        create_token(session, "b", ["read"], clock.now)
        revoke_token(session, first.id, clock.now)
        assert [t.name for t in list_tokens(session)] == ["b"]


def test_an_unknown_scope_is_refused(db: Database, clock: VirtualClock) -> None:
    with db.transaction() as session, pytest.raises(TokenError):
        create_token(session, "x", ["admin"], clock.now)


def test_the_cli_adds_lists_and_revokes(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from mahnwerk.tokens import token

    monkeypatch.setenv("DATABASE_URL", db.url)
    runner = CliRunner()
    added = runner.invoke(token, ["add", "billing", "--scope", "write"])
    runner.invoke(token, ["revoke", "1"])
    listed = runner.invoke(token, ["list", "--all"])
    assert ("mw_" in added.output, "revoked" in listed.output) == (True, True)
