"""The scheduler as a process of its own: `mahnwerk worker`, and the one `mahnwerk serve` starts."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from engine.core.settings import load_settings
from engine.ops.scheduler import build_scheduler
from engine.storage.db import Database
from engine.storage.migrate import SchemaOutdated, check_schema

log = logging.getLogger(__name__)


def run_scheduler(parent_pid: int | None = None) -> None:
    """Tick and dispatch on a blocking scheduler: `mahnwerk worker`, and serve's scheduler."""
    # Alone (`mahnwerk worker`) it reports every job; beside serve's web workers only trouble.
    level = logging.INFO if parent_pid is None else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(message)s")
    # Ctrl+C reaches the whole process group: let serve stop this process with SIGTERM after
    # its workers, and finish a running tick (SystemExit joins the executor's threads).
    if parent_pid is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        threading.Thread(target=_exit_with, args=(parent_pid,), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        check_schema(db)  # never run a release's jobs on another release's schema
    except SchemaOutdated as exc:
        log.error("%s", exc)
        sys.exit(2)
    build_scheduler(db, settings, blocking=True).start()


def _exit_with(parent_pid: int) -> None:
    """End this process when serve's process is gone (killed without a chance to stop us)."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)
