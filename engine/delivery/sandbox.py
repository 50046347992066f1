"""The sandbox dispatcher: the real dispatcher with every channel on its sandbox connector."""

from __future__ import annotations

from typing import Any

from engine.delivery.config import Company, DeliveryConfig
from engine.delivery.dispatcher import Dispatcher, DispatchReport
from engine.storage.db import Database

__all__ = ["DispatchReport", "SandboxDispatcher"]


class SandboxDispatcher(Dispatcher):
    """Renders due messages through the guard and stores what would have been sent."""

    def __init__(self, db: Database, creditor: str | None = None, **kw: Any) -> None:
        company = Company(name=creditor) if creditor else Company()
        super().__init__(db, config=DeliveryConfig(company=company), **kw)
