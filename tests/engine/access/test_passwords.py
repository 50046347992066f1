"""Password hashes: scrypt in werkzeug's stored format, both ways."""

from __future__ import annotations

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from engine.access.passwords import check_password, hash_password


def test_a_hash_verifies_its_password_only() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:32768:8:1$")
    assert check_password(stored, "correct horse")
    assert not check_password(stored, "correct hors")


def test_hashes_written_by_werkzeug_before_still_verify() -> None:
    stored = generate_password_hash("mahnwerk-demo", method="scrypt")
    assert check_password(stored, "mahnwerk-demo")
    assert not check_password(stored, "mahnwerk-dem0")


def test_werkzeug_reads_our_hashes() -> None:
    """Nothing is locked in: the stored format is the common one."""
    assert check_password_hash(hash_password("s3cret-pass"), "s3cret-pass")


def test_the_same_password_gets_a_new_salt_each_time() -> None:
    assert hash_password("again and again") != hash_password("again and again")


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "pbkdf2:sha256:600000$salt$abcd",
        "scrypt:32768:8$salt$abcd",
        "scrypt:x:8:1$salt$abcd",
        "scrypt:1073741824:8:1$salt$abcd",  # a cost that would eat the machine's memory
    ],
)
def test_malformed_or_unknown_hashes_never_match(stored: str) -> None:
    assert not check_password(stored, "anything")
