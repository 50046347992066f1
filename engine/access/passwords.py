"""Password hashes: scrypt from the standard library, stored as `scrypt:n:r:p$salt$hex`.

The format is the one werkzeug.security writes, so the hashes of users created before the
engine stopped importing werkzeug (the engine knows no web framework) still verify.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

SALT_CHARS = string.ascii_letters + string.digits
SALT_LENGTH = 16
N, R, P = 2**15, 8, 1  # werkzeug's defaults: about 50 ms and 32 MB per hash


# No one's password, at the cost of a real hash: checked when no user has the email, so that
# an unknown address takes as long to refuse as a wrong password (no account enumeration).
NO_ONE = f"scrypt:{N}:{R}:{P}$timing0equaliser${'0' * 128}"


def _scrypt(password: str, salt: str, n: int, r: int, p: int) -> str:
    digest = hashlib.scrypt(
        password.encode(), salt=salt.encode(), n=n, r=r, p=p, maxmem=132 * n * r * p
    )
    return digest.hex()


def hash_password(password: str) -> str:
    """A salted scrypt hash of the password, with its parameters."""
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(SALT_LENGTH))
    return f"scrypt:{N}:{R}:{P}${salt}${_scrypt(password, salt, N, R, P)}"


def check_password(stored: str, password: str) -> bool:
    """Whether the password matches the stored hash (constant-time compare; False if malformed)."""
    try:
        method, salt, digest = stored.split("$", 2)
        name, n, r, p = method.split(":")
        if name != "scrypt":
            return False
        # Parameters come from our own stored hashes; bound them so a bad row cannot eat memory.
        cost = (int(n), int(r), int(p))
        if not (2 <= cost[0] <= 2**20 and 1 <= cost[1] <= 32 and 1 <= cost[2] <= 16):
            return False
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(password, salt, *cost), digest)
