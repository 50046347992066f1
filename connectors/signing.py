"""HMAC-SHA256 signatures for bodies we post and webhooks we receive."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """Signature header value for body, e.g. 'sha256=ab12...'."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a signature header against body."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)
