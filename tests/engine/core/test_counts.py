"""Reports of parts add up to the report of the whole."""

from __future__ import annotations

from dataclasses import fields

from engine.delivery.dispatcher import DispatchReport
from engine.run.runtime import TickReport


def test_a_tick_report_adds_every_counter() -> None:
    total = TickReport(cases=2, transitions=3, errors=1)
    total.add(TickReport(cases=5, messages=4, errors=1))
    assert total == TickReport(cases=7, transitions=3, messages=4, errors=2)


def test_a_dispatch_report_adds_every_counter() -> None:
    parts = [DispatchReport(**{f.name: i + 1 for f in fields(DispatchReport)}) for i in range(3)]
    total = DispatchReport()
    for part in parts:
        total.add(part)
    assert all(getattr(total, f.name) == 6 for f in fields(DispatchReport))
