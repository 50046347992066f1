"""Fees a `fee` step charges: a fixed amount or one from the rates data's fee tables, and what
the law forbids or caps (DE-03, DE-04, US-11 in shared/domain/compliance.md), as problems that
name the step and the field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engine.core.messages import Money, Text, Verbatim, msg
from engine.money import rates
from engine.nodes.base import Problem

if TYPE_CHECKING:
    from engine.core.state import CaseState
    from engine.journey.document import Journey, Node

CENT = Decimal("0.01")


def fee_amount(params: dict[str, Any], jurisdiction: str, cs: CaseState) -> Decimal:
    """What the step charges this case: its fixed amount, or its table's band for the claim."""
    if params.get("amount") not in (None, ""):
        return Decimal(str(params["amount"])).quantize(CENT)
    found = rates.jurisdiction(jurisdiction)
    table = found.fees.get(str(params.get("table"))) if found is not None else None
    if table is None:  # validation refuses this; a journey changed under a case charges nothing
        return Decimal("0.00")
    if cs.debtor_type not in table.debtor_types:
        return Decimal("0.00")  # the law forbids it for this debtor (validation warns before)
    return table.amount(cs.amount_original).quantize(CENT)


def fee_payload(params: dict[str, Any], journey: Journey, cs: CaseState) -> dict[str, Any] | None:
    """The `fee_charged` event a step books for a case; None when it charges nothing."""
    amount = fee_amount(params, journey.jurisdiction, cs)
    if amount <= 0:
        return None
    name = params.get("table") or params.get("name") or "fee"
    return {"amount": str(amount), "currency": cs.currency, "name": str(name)}


def fee_problems(node: Node, journey: Journey) -> list[Problem]:
    """What the law says of this fee step in this journey: refusals (errors) and caps."""
    params = node.params
    has_amount = params.get("amount") not in (None, "")
    has_table = bool(params.get("table"))
    if has_amount == has_table:
        words = msg("Give either a fixed amount or a fee table, not both and not neither.")
        return [Problem.of(words, node.id, "params.amount")]
    if has_table:
        return _table_problems(node, journey)
    return _fixed_problems(node, journey, Decimal(str(params["amount"])))


def _table_problems(node: Node, journey: Journey) -> list[Problem]:
    from engine.compliance.legal import debtor_types  # the compliance room reads the graph

    name = str(node.params["table"])
    found = rates.jurisdiction(journey.jurisdiction)
    tables = found.fees if found is not None else {}
    if name not in tables:
        known = ", ".join(tables) or msg("none")
        words = msg(
            "The jurisdiction {jurisdiction} has no fee table '{table}' (known: {known}).",
            jurisdiction=journey.jurisdiction,
            table=name,
            known=known,
        )
        return [Problem.of(words, node.id, "params.table")]
    table = tables[name]
    barred = sorted(debtor_types(journey) - set(table.debtor_types))
    if not barred:
        return []
    words = msg(
        "The law ({law}) allows this fee only from {allowed}; the start step also lets "
        "{barred} in. Filter the start step on debtor_type.",
        law=table.law,
        allowed=_types(table.debtor_types),
        barred=_types(barred),
    )
    code = "DE-03" if journey.jurisdiction == "DE" else "FEE-DEBTOR-TYPE"
    return [Problem.of(words, node.id, "params.table").graded(code, "BLOCK")]


def _fixed_problems(node: Node, journey: Journey, amount: Decimal) -> list[Problem]:
    problems: list[Problem] = []
    found = rates.jurisdiction(journey.jurisdiction)
    caps = found.caps if found is not None else {}
    warn = caps.get("fixed_fee_warn")
    if warn is not None and amount > Decimal(str(warn)):
        words = msg(
            "A reminder fee may cover only the real material cost (BGH VIII ZR 95/18): "
            "{amount} is above {cap}. Name the cost it covers, or lower it.",
            amount=Money(amount, journey.currency),
            cap=Money(Decimal(str(warn)), journey.currency),
        )
        problems.append(
            Problem.of(words, node.id, "params.amount", "warning").graded("DE-04", "HIGH")
        )
    if journey.jurisdiction == "US":
        words = msg(
            "A fee only where the agreement or the law expressly allows it (US-11); "
            "a reviewer confirms it does."
        )
        problems.append(
            Problem.of(words, node.id, "params.amount", "warning").graded("US-11", "HIGH")
        )
    return problems


def first_reminder_problems(node: Node, journey: Journey) -> list[Problem]:
    """DE-04: no fee on the reminder that creates default: a send must come before a fee."""
    found = rates.jurisdiction(journey.jurisdiction)
    if found is None or not found.caps.get("no_fee_on_first_reminder"):
        return []
    if not _reachable_without_send(journey, node.id):
        return []
    words = msg(
        "No fee on the reminder that puts the debtor in default (§ 286 BGB, DE-04): put "
        "this step after the first reminder, so that it charges for a later one."
    )
    return [Problem.of(words, node.id).graded("DE-04", "BLOCK")]


def _reachable_without_send(journey: Journey, target: str) -> bool:
    """Whether some path from the start reaches `target` with no send step on the way."""
    start = next((n.id for n in journey.nodes if n.type == "start"), None)
    if start is None:
        return False
    sends = {n.id for n in journey.nodes if n.type == "send"}
    seen, stack = {start}, [start]
    while stack:
        current = stack.pop()
        for nxt in journey.outgoing(current).values():
            if nxt == target:
                return True
            if nxt in seen or nxt in sends:
                continue
            seen.add(nxt)
            stack.append(nxt)
    return False


def _types(names: Any) -> Text:
    words = {"consumer": msg("consumers"), "business": msg("businesses")}
    parts = [words.get(n) or Verbatim(str(n)) for n in names]
    if len(parts) == 1:
        return parts[0]
    return msg("{first} and {second}", first=parts[0], second=parts[1])
