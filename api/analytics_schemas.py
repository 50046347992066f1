"""Request and response schemas of the journey's numbers (api/analytics.py)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine import PeriodError

MAX_CURE_DAYS = 365


class PeriodIn(Schema):
    """A period of whole days (UTC), both ends included; by default the last 30 days."""

    since = fields.Date(
        load_default=None, metadata={"description": "First day (default: until - 29 days)."}
    )
    until = fields.Date(load_default=None, metadata={"description": "Last day (default: today)."})


class NumbersIn(PeriodIn):
    """The canvas numbers' period, and the version whose wires are drawn."""

    version = fields.Integer(
        load_default=None,
        validate=validate.Range(1, 1_000_000),
        metadata={"description": "Version whose wires are named (default: the published one)."},
    )


class DashboardIn(PeriodIn):
    """The dashboard's cohort period and cure window."""

    cure_days = fields.Integer(
        load_default=30,
        validate=validate.Range(1, MAX_CURE_DAYS),
        metadata={"description": "Cure rate: the share paid in full within this many days."},
    )


class StepOut(Schema):
    """One step's numbers."""

    entered = fields.Integer(metadata={"description": "Cases that entered it in the period."})
    waiting = fields.Integer(metadata={"description": "Cases there now (active or held)."})
    stopped = fields.Integer(metadata={"description": "Cases stopped there for a person."})
    left = fields.Dict(keys=fields.String(), values=fields.Integer())
    closed = fields.Dict(keys=fields.String(), values=fields.Integer())


class WireOut(Schema):
    """A wire: the cases that left a step by a port."""

    node = fields.String()
    port = fields.String()
    target = fields.String(allow_none=True)
    cases = fields.Integer()
    share = fields.Float(metadata={"description": "Of all cases that left the step."})
    paid = fields.Integer(metadata={"description": "Of them, paid in full since."})
    paid_share = fields.Float(allow_none=True)


class NumbersOut(Schema):
    """The journey's numbers per step and wire for a period."""

    journey = fields.String()
    since = fields.String(metadata={"description": "First day, ISO date."})
    until = fields.String(metadata={"description": "Last day, ISO date."})
    steps = fields.Dict(keys=fields.String(), values=fields.Nested(StepOut))
    wires = fields.List(fields.Nested(WireOut))


class MoneyOut(Schema):
    """The cohort's amounts in one currency (minor units)."""

    currency = fields.String()
    cases = fields.Integer()
    original_minor = fields.Integer()
    collected_minor = fields.Integer()
    recovery_rate = fields.Float(allow_none=True)


class DashboardOut(Schema):
    """The dashboard of the cases that entered the journey in the period."""

    journey = fields.String()
    since = fields.String(metadata={"description": "First day, ISO date."})
    until = fields.String(metadata={"description": "Last day, ISO date."})
    cure_days = fields.Integer()
    cases = fields.Integer()
    money = fields.List(fields.Nested(MoneyOut))
    paid_full = fields.Integer()
    paid_full_rate = fields.Float(allow_none=True)
    paid_part = fields.Integer()
    paid_part_rate = fields.Float(allow_none=True)
    cured = fields.Integer()
    cure_rate = fields.Float(allow_none=True)
    cure_curve = fields.List(fields.Dict(keys=fields.String(), values=fields.Integer()))
    days_to_pay = fields.List(fields.Dict(keys=fields.String(), values=fields.Integer()))
    median_days_to_pay = fields.Integer(allow_none=True)
    messages = fields.Dict(keys=fields.String(), values=fields.Integer())
    messages_per_case = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    cost = fields.Dict(keys=fields.String(), values=fields.String())
    cost_per_case = fields.String(allow_none=True)
    guardrails = fields.Dict(keys=fields.String(), values=fields.Integer())
    flow = fields.List(fields.Dict())


__all__ = ["DashboardIn", "DashboardOut", "NumbersIn", "NumbersOut", "PeriodError"]
