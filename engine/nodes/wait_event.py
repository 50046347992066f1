"""Wait for event: park until one of some events arrives, or a timeout passes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from engine.core.event_types import EVENT_WORDS, WAITABLE
from engine.core.messages import Text, Verbatim, msg
from engine.journey.calendar import days_later
from engine.nodes.base import Entry, NodeType, Port, RuleSpec, WholeDays, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node


def event_words(event: str) -> Text:
    """What an event means, as a clause ('a payment arrives'); an unknown one as its name."""
    return EVENT_WORDS.get(event) or Verbatim(event)


class WaitEventParams(Schema):
    events = fields.List(
        fields.String(validate=validate.OneOf(WAITABLE)),
        required=True,
        validate=validate.Length(min=1),
        metadata=param(
            msg("Events"),
            msg("Go on as soon as one of these happens."),
            # in words ("a payment arrives"), never the raw event code
            choices={e: EVENT_WORDS.get(e, Verbatim(e)) for e in WAITABLE},
        ),
    )
    timeout_days = WholeDays(
        required=True,
        validate=validate.Range(min=0, max=3650),
        metadata=param(
            msg("Timeout (days)"), msg("Take the 'timeout' way when nothing happened by then.")
        ),
    )
    timeout_business = fields.Boolean(
        load_default=False,
        metadata=param(
            msg("Timeout in business days"),
            msg("Count the timeout in business days (weekends and public holidays skipped)."),
        ),
    )


class WaitEvent(NodeType):
    """Park until an event or the timeout."""

    name = "wait_event"
    label = msg("Wait for event")
    help = msg("Wait for a payment, a promise, a click ... or take the timeout way.")
    params_schema = WaitEventParams
    parks = True

    def ports(self, params: dict[str, Any]) -> list[Port]:
        events = params.get("events") or []
        return [Port.of(e, event_words(e)) for e in events] + [Port.of("timeout", msg("Timeout"))]

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        rules = [
            rule_spec(node.id, f"event:{e}", e, event_words(e))
            for e in node.params.get("events") or []
        ]
        days = node.params.get("timeout_days", 0)
        timeout = msg("{days:#day|days} passed without that", days=days)
        if node.params.get("timeout_business"):
            timeout = msg("{days:#business day|business days} passed without that", days=days)
        rules.append(rule_spec(node.id, "timer", "timeout", timeout))
        return rules

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        params = node.params
        business = bool(params.get("timeout_business"))
        return Entry(timer_at=days_later(now, int(params["timeout_days"]), business, case))

    def instant_ports(self, params: dict[str, Any]) -> frozenset[str]:
        """A timeout of zero days is taken at once; events come in a later tick."""
        return frozenset({"timeout"}) if int(params.get("timeout_days", 0)) <= 0 else frozenset()


NODE_TYPE = WaitEvent()
