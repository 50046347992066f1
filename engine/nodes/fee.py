"""Fee: charge the case a fee (a fixed amount, or one from a fee table of the rates data), go on.

The fee is booked as a `fee_charged` event on the case (engine/money/balance.py): it is owed
beside the principal, shown in texts (`{{ fees }}`), the portal and the case page, and paid
before interest and principal (§ 367 BGB) unless the journey's settings say otherwise.
Validation refuses what the law forbids (the EUR 40 flat fee to consumers, a fee before the
first reminder in Germany) and flags a fixed fee above the cap the rates data knows.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from marshmallow import Schema, fields, validate

from engine.core.messages import Message, Money, msg, pmsg
from engine.money.fees import fee_problems, first_reminder_problems
from engine.money.rates import RatesError
from engine.nodes.base import Entry, NodeType, Problem, RuleSpec, param, rule_spec

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node


class FeeParams(Schema):
    amount = fields.Decimal(
        load_default=None,
        allow_none=True,
        places=2,
        as_string=True,
        validate=validate.Range(min=0, min_inclusive=False, max=100000),
        metadata=param(
            msg("Amount"),
            msg("A fixed fee in the journey's currency, e.g. 2.50; or leave it empty for a table."),
        ),
    )
    table = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,63}$"),
        metadata=param(
            msg("Fee table"),
            msg("A fee from the rates data by jurisdiction and debtor type, e.g. flat_fee."),
        ),
    )
    name = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata=param(msg("Name"), msg("What the fee is for, e.g. postage; texts can show it.")),
    )


class Fee(NodeType):
    """Book a fee on the case and go on at once."""

    name = "fee"
    label = pmsg("node type", "Charge a fee")
    help = msg("Add a fee to what the case owes: a fixed amount or one from a fee table.")
    params_schema = FeeParams

    def compile(self, node: Node, journey: Journey) -> list[RuleSpec]:
        return [rule_spec(node.id, "enter", "next", self.words(node.params, journey.currency))]

    def enter(self, node: Node, case: CaseState, now: datetime) -> Entry:
        # The amount needs the journey's jurisdiction: the runtime resolves it (money.fees).
        return Entry(fee=dict(node.params))

    def check(self, node: Node, journey: Journey) -> list[Problem]:
        try:
            return fee_problems(node, journey) + first_reminder_problems(node, journey)
        except RatesError:  # named once for the journey (engine/money/checks.py)
            return []

    @staticmethod
    def words(params: dict[str, Any], currency: str = "EUR") -> Message:
        """'a fee of 2.50 EUR has been charged' / 'the fee 'flat_fee' has been charged'."""
        if params.get("amount") not in (None, ""):
            return msg(
                "a fee of {amount} has been charged",
                amount=Money(float(params["amount"]), currency),
            )
        return msg("the fee '{table}' has been charged", table=params.get("table") or "?")


NODE_TYPE = Fee()
