"""The sandbox dispatcher: the real dispatcher with every channel on its sandbox connector."""

from __future__ import annotations

from typing import Any

from engine.core.channels import CHANNELS
from engine.delivery.config import Company, DeliveryConfig
from engine.delivery.dispatcher import Dispatcher, DispatchReport
from engine.storage.db import Database

__all__ = ["DispatchReport", "SandboxDispatcher"]


class SandboxDispatcher(Dispatcher):
    """Renders due messages through the guard and stores what would have been sent."""

    def __init__(self, db: Database, creditor: str | None = None, **kw: Any) -> None:
        company = Company(name=creditor) if creditor else Company()
        # Every channel, opt-in ones too: a simulation shows what a WhatsApp step would send.
        profiles = {channel: {"provider": "sandbox"} for channel in CHANNELS}
        super().__init__(db, config=DeliveryConfig(profiles=profiles, company=company), **kw)
