"""How `mahnwerk serve` runs the product: web worker processes and one scheduler process.

The web app runs under Granian: HTTP parsed in Rust, the WSGI app on a few Python threads per
worker process (measured on 2 cores with a trivial app: 0.09 ms of CPU per keep-alive request,
waitress 0.21 ms, gunicorn's gthread workers 0.37 ms). Workers share the listening socket;
each builds its own app (`worker_app`) after the fork, so no database connection crosses a
process boundary.

One web worker per core is the default (`default_workers`). Nothing a request needs lives in
one worker's memory: the API is all in the database, and the designer's long jobs keep their
state there too (engine.ops.jobs): a simulation or case import runs in a thread of the worker that
got the POST, writes its progress and result to the `jobs` table, and any worker answers the
progress poll and shows the result; the import wizard's uploads and remembered mappings are
tables as well (designer/imports.py). Granian may spread a user's connections over every
worker.

Tick and dispatch run in exactly one process of their own (ARCHITECTURE: never a scheduler
inside web workers), started here with the same code as `mahnwerk worker`. On SQLite the
workers and the scheduler share the file in WAL mode; writers take BEGIN IMMEDIATE and wait in
busy_timeout, and inside a worker the API's writes queue on a lock (api.store).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from typing import Any

from flask import Flask

THREADS_ENV = "MAHNWERK_WEB_THREADS"  # passed to the workers, which size their pools by it
DEFAULT_THREADS = 4


def default_workers() -> int:
    """One web worker per core (at least one): every worker can answer every request."""
    return max(os.cpu_count() or 1, 1)


def worker_app() -> Flask:
    """The app of one web worker (Granian calls this in each worker process)."""
    from mahnwerk.wsgi import create_app

    threads = int(os.environ.get(THREADS_ENV, DEFAULT_THREADS))
    # A pooled connection per thread: no connections opened and closed under load.
    return create_app({"DATABASE_POOL_SIZE": threads})


def serve(
    host: str,
    port: int,
    workers: int,
    threads: int = DEFAULT_THREADS,
    scheduler: bool = True,
    announce: Callable[[str], None] = print,
    quiet: bool = False,
) -> None:
    """Serve the designer and API on host:port until SIGINT or SIGTERM; blocks."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ[THREADS_ENV] = str(threads)
    jobs = _start_scheduler(announce) if scheduler else None
    server = Granian(
        "mahnwerk.serve:worker_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        factory=True,
        workers=workers,
        blocking_threads=threads,
        respawn_failed_workers=True,
        log_level=LogLevels.warning if quiet else LogLevels.info,
    )
    announce(f"Mahnwerk on http://{host}:{port} ({workers} web workers x {threads} threads)")
    try:
        server.serve()
    finally:
        if jobs is not None:
            jobs.terminate()
            jobs.join(30)


def _start_scheduler(announce: Callable[[str], None]) -> Any:
    from engine.core.settings import load_settings
    from engine.ops.process import run_scheduler

    settings = load_settings()
    process = multiprocessing.get_context("spawn").Process(
        target=run_scheduler, args=(os.getpid(),), name="mahnwerk-scheduler", daemon=True
    )
    process.start()
    announce(
        f"Scheduler (own process {process.pid}): tick every {settings.tick_seconds:g}s, "
        f"dispatch every {settings.dispatch_seconds:g}s."
    )
    return process
