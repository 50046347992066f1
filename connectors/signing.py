"""The one signature scheme for everything Mahnwerk signs, and the check its receivers make.

`Mahnwerk-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is HMAC-SHA256 with the shared
secret over `"{t}.{raw body}"`. A receiver checks it in constant time and refuses a `t` more than
TOLERANCE seconds from its own clock, so a captured request cannot be replayed later. Webhooks
(engine.delivery.webhooks), the webhook SMS connector's posts (connectors.sms_http) and the
generic SMS receipts Mahnwerk takes (api.receipts) all use it. Plain standard
library: connectors know no engine, and the engine signs through this module.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

HEADER = "Mahnwerk-Signature"
TOLERANCE = 300  # seconds a signature stays good for


def _unix(now: datetime | None) -> int:
    """Unix seconds of `now` (naive values are UTC), or of the wall clock."""
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body signed at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def sign(secret: str, body: bytes, now: datetime | None = None) -> str:
    """The header value for a body sent now (or at `now`)."""
    return signature(secret, _unix(now), body)


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    now: datetime | None = None,
    tolerance: int = TOLERANCE,
) -> bool:
    """A v1 signature of this body with this secret, made within `tolerance` seconds of `now`."""
    if not header:
        return False
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs(_unix(now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts["v1"])
