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
    secret_key: str = field(
        default_factory=lambda: os.environ.get("MAHNWERK_SECRET_KEY", "dev-only-change-me")
    )


def load_settings() -> Settings:
    """Read the settings once from the environment."""
    return Settings()
