"""The one signature scheme: t=<unix seconds>,v1=<HMAC over "{t}.{body}">, a stale t refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from connectors.signing import HEADER, TOLERANCE, sign, signature, verify

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_the_header_is_the_timestamped_hmac_of_timestamp_and_body() -> None:
    t = int(NOW.timestamp())
    mac = hmac.new(b"s", f"{t}.".encode() + b"{}", hashlib.sha256).hexdigest()
    assert HEADER == "Mahnwerk-Signature"
    assert sign("s", b"{}", NOW) == signature("s", t, b"{}") == f"t={t},v1={mac}"


def test_a_signature_verifies_for_its_secret_and_body_only() -> None:
    header = sign("s", b"{}", NOW)
    assert verify("s", b"{}", header, NOW)
    assert not verify("other", b"{}", header, NOW)
    assert not verify("s", b"{ }", header, NOW)
    assert not verify("s", b"{}", None, NOW)
    assert not verify("s", b"{}", "sha256=" + "0" * 64, NOW)


def test_a_stale_timestamp_is_refused() -> None:
    header = sign("s", b"{}", NOW)
    assert verify("s", b"{}", header, NOW + timedelta(seconds=TOLERANCE))
    assert not verify("s", b"{}", header, NOW + timedelta(seconds=TOLERANCE + 1))
    assert not verify("s", b"{}", header, NOW - timedelta(seconds=TOLERANCE + 1))


def test_naive_times_are_utc() -> None:
    assert sign("s", b"{}", NOW.replace(tzinfo=None)) == sign("s", b"{}", NOW)
