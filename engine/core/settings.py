"""Settings from the environment, with embedded defaults for a single machine."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.messages import Message, msg

DEFAULT_INSTANCE = Path(os.environ.get("MAHNWERK_INSTANCE", "instance"))
SECRET_KEY_FILE = "secret_key"  # in the instance folder, written by `mahnwerk init`
# Keys that were once a default or an example: anyone can sign a session cookie with them.
DEVELOPMENT_KEYS = frozenset({"dev-only-change-me", "dev", "development", "change-me", "secret"})


def instance_folder() -> Path:
    """The instance folder, read when asked (MAHNWERK_INSTANCE, else ./instance)."""
    return Path(os.environ.get("MAHNWERK_INSTANCE", "instance"))


def secret_key_path() -> Path:
    """Where `mahnwerk init` keeps the generated session key."""
    return instance_folder() / SECRET_KEY_FILE


def read_secret_key() -> str | None:
    """MAHNWERK_SECRET_KEY, else the key `mahnwerk init` wrote, else None."""
    key = os.environ.get("MAHNWERK_SECRET_KEY", "").strip()
    if key:
        return key
    try:
        return secret_key_path().read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def ensure_secret_key() -> Path | None:
    """Write a random session key (mode 0600) unless one is set or written; its path if new."""
    if os.environ.get("MAHNWERK_SECRET_KEY", "").strip() or secret_key_path().exists():
        return None
    path = secret_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two inits at once cannot overwrite each other's key; 0600 from the first byte.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(48) + "\n")
    return path


def secret_key_problem(key: str | None) -> Message | None:
    """Why this session key must not serve anyone, or None when it may."""
    if not key:
        return msg(
            "No session key: set MAHNWERK_SECRET_KEY or run `mahnwerk init`, which writes a "
            "random one to {path}.",
            path=str(secret_key_path()),
        )
    if key in DEVELOPMENT_KEYS:
        return msg(
            "MAHNWERK_SECRET_KEY is a published development value, with which anyone can forge "
            "a sign-in. Unset it so that `mahnwerk init` writes a random key to {path}, or set "
            "it to a long random value.",
            path=str(secret_key_path()),
        )
    return None


def rf_prefix_setting() -> str:
    """MAHNWERK_RF_PREFIX as set (default MW): read alone, as every message's reference needs it."""
    return os.environ.get("MAHNWERK_RF_PREFIX", "MW")


@dataclass(frozen=True)
class Settings:
    """What the engine and the designer read from the environment."""

    database_url: str = field(
        default_factory=lambda: os.environ.get(
            "DATABASE_URL", f"sqlite:///{(DEFAULT_INSTANCE / 'mahnwerk.sqlite3').resolve()}"
        )
    )
    tick_seconds: float = field(
        default_factory=lambda: float(os.environ.get("MAHNWERK_TICK_SECONDS", "30"))
    )
    dispatch_seconds: float = field(
        default_factory=lambda: float(os.environ.get("MAHNWERK_DISPATCH_SECONDS", "10"))
    )
    batch_size: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_BATCH_SIZE", "1000"))
    )
    portal_base_url: str = field(
        default_factory=lambda: os.environ.get("MAHNWERK_PORTAL_URL", "http://127.0.0.1:5000/p")
    )
    # How many days a message's signed portal link opens the portal (engine.access.portal_links).
    portal_link_days: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_PORTAL_LINK_DAYS", "30"))
    )
    # The latest date a debtor may promise in the portal, in days from today.
    portal_promise_days: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_PORTAL_PROMISE_DAYS", "30"))
    )
    # The fixed start of every case's RF creditor reference (engine.payments.references):
    # letters and digits, at most 8; changing it leaves references already sent unmatched.
    rf_prefix: str = field(default_factory=rf_prefix_setting)
    # A folder the worker watches for bank statements (CAMT.053, MT940); read files move to
    # done/ or failed/ inside it (engine.payments.inbox). None: no folder is watched.
    statement_inbox: str | None = field(
        default_factory=lambda: os.environ.get("MAHNWERK_STATEMENT_INBOX", "").strip() or None
    )
    # The dispatcher: threads sending in parallel, and messages claimed per transaction. While
    # one batch is being sent the next is claimed (guard, render, lease), so a batch should
    # take about as long to claim as to send; see docs/connectors.md.
    dispatch_workers: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_DISPATCH_WORKERS", "8"))
    )
    dispatch_batch: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_DISPATCH_BATCH", "500"))
    )
    # Where providers reach this installation from outside (scheme and host, no trailing path),
    # e.g. https://mahnwerk.example.com; SMS ask for receipts at {public_url}/hooks/sms/<provider>.
    public_url: str | None = field(
        default_factory=lambda: (
            os.environ.get("MAHNWERK_PUBLIC_URL", "").strip().rstrip("/") or None
        )
    )
    # How long a designer sign-in lasts after its last request; then the cookie no longer verifies.
    session_hours: float = field(
        default_factory=lambda: float(os.environ.get("MAHNWERK_SESSION_HOURS", "12"))
    )
    # The budget of one template render (subject, body and html): wall seconds, loop steps and
    # calls, characters per part (docs/journeys.md, "Template budgets").
    template_seconds: float = field(
        default_factory=lambda: float(os.environ.get("MAHNWERK_TEMPLATE_SECONDS", "0.5"))
    )
    template_steps: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_TEMPLATE_STEPS", "20000"))
    )
    template_chars: int = field(
        default_factory=lambda: int(os.environ.get("MAHNWERK_TEMPLATE_CHARS", "200000"))
    )
    # The largest case document (the invoice PDF) the API stores, in bytes (docs/api.md).
    document_max_bytes: int = field(
        default_factory=lambda: int(
            os.environ.get("MAHNWERK_DOCUMENT_MAX_BYTES", str(5 * 1024 * 1024))
        )
    )
    # None until `mahnwerk init` wrote one; the program refuses to serve without (mahnwerk.wsgi).
    secret_key: str | None = field(default_factory=read_secret_key)


def secure_cookies(settings: Settings) -> bool:
    """Whether cookies get the Secure flag: when the installation is reached over https."""
    return (settings.public_url or "").startswith("https://")


def load_settings() -> Settings:
    """Read the settings once from the environment."""
    return Settings()
