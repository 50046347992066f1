"""Settings from the environment, with embedded defaults for a single machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_INSTANCE = Path(os.environ.get("MAHNWERK_INSTANCE", "instance"))


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
    secret_key: str = field(
        default_factory=lambda: os.environ.get("MAHNWERK_SECRET_KEY", "dev-only-change-me")
    )


def load_settings() -> Settings:
    """Read the settings once from the environment."""
    return Settings()
