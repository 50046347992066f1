"""The payment providers of a front door (API, portal), and processing soon after a webhook.

An app takes PAYMENT_PROVIDERS from its config (tests wire a sandbox in a temporary folder),
else loads the configured ones once (`engine.load_payment_providers`). After a provider's
webhook is stored, `process_soon` acts on it in a thread of this process, so the webhook's
answer does not wait for the provider's status fetch; PAYMENTS_PROCESS = "inline" does it
before answering (tests), "off" leaves it to the scheduler's `payments` job, which also
catches whatever a thread missed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from engine import Database, PaymentProviders, load_payment_providers, process_provider_events

KEY = "mahnwerk_payment_providers"
log = logging.getLogger(__name__)


def providers() -> PaymentProviders:
    """This app's payment providers."""
    configured = current_app.config.get("PAYMENT_PROVIDERS")
    if configured is not None:
        return configured
    if KEY not in current_app.extensions:
        current_app.extensions[KEY] = load_payment_providers()
    return current_app.extensions[KEY]


class _Processor:
    """One processing thread at a time per process; a kick while it runs makes it go again."""

    def __init__(self) -> None:
        self.running = threading.Lock()
        self.again = threading.Event()

    def kick(self, db: Database, registry: PaymentProviders, clock: Callable[[], datetime]) -> None:
        self.again.set()
        if self.running.acquire(blocking=False):
            args = (db, registry, clock)
            threading.Thread(target=self._run, args=args, daemon=True, name="payments").start()

    def _run(self, db: Database, registry: PaymentProviders, clock: Callable[[], datetime]) -> None:
        try:
            while self.again.is_set():
                self.again.clear()
                process_provider_events(db, registry, clock())
        except Exception:  # the scheduler's payments job tries again
            log.exception("processing provider events failed")
        finally:
            self.running.release()


_processor = _Processor()


def process_soon(db: Database, registry: PaymentProviders, clock: Callable[[], datetime]) -> None:
    """Act on stored provider events: inline, in a thread (default), or not here at all."""
    mode = current_app.config.get("PAYMENTS_PROCESS", "thread")
    if mode == "inline":
        process_provider_events(db, registry, clock())
    elif mode == "thread":
        _processor.kick(db, registry, clock)
