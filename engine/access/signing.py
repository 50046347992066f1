"""Timed signatures at the engine's clock: the one serializer portal links and passes use."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from engine.core.clock import naive_utc


def timed_serializer(secret: str, salt: str, now: datetime) -> URLSafeTimedSerializer:
    """itsdangerous's timed serializer, its clock set to the engine's `now` (not the wall's)."""
    stamp = int(naive_utc(now).timestamp()) if now.tzinfo is None else int(now.timestamp())
    return _at(secret, salt, stamp)


@lru_cache(maxsize=64)
def _at(secret: str, salt: str, stamp: int) -> URLSafeTimedSerializer:
    # Kept per second: the dispatcher signs a whole batch's links at one `now`, and building a
    # signer class per link was most of a link's cost. The serializer holds no state per call.
    class AtNow(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret, salt=salt, signer=AtNow)
