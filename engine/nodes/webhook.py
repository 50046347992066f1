"""Webhook: tell the host system something (e.g. hand over to an agency), then go on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from marshmallow import fields

from engine.core.messages import msg
from engine.journey.document import name_pattern
from engine.nodes.base import Entry, NodeType, RuleSpec, param, rule_spec
from engine.nodes.window import SlotParams, release_at, with_slot

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node


class WebhookParams(SlotParams):
    event = fields.String(
        required=True,
        validate=name_pattern(r"^[a-z][a-z0-9_.]{0,63}$"),
        metadata=param(
            msg("Event"), msg("Name of the event the host system receives, e.g. case.handover.")
        ),
    )
    note = fields.String(
        load_default="",
        metadata=param(msg("Note"), msg("A short text sent along, e.g. the agency name.")),
    )


class Webhook(NodeType):
    """Queue a notification for the host system."""

    name = "webhook"
    label = msg("Notify host system")
    help = msg("Tell the billing or ERP system, e.g. to hand the case over to an agency.")
    params_schema = WebhookParams

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        told = msg("the host system has been told '{event}'", event=node.params.get("event", "?"))
        return [rule_spec(node.id, "enter", "next", with_slot(told, node.params))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        return Entry(
            notify={"event": node.params["event"], "note": node.params.get("note", "")},
            not_before=release_at(node.params, case, now),
        )


NODE_TYPE = Webhook()
