"""Consolidation: a debtor's messages of several cases, due on one channel, go as one message.

A journey with `settings.consolidate` (`{"window_hours": 24}`) lets the dispatcher combine the
messages its cases have due for one debtor on one channel (in one currency) within the window
into one message listing every open item (docs/debtors.md, "Consolidation"). The group goes
out as its most advanced row, the *carrier*: the highest tone, then the most overdue case. The
other rows, *absorbed*, are leased with it in the claim transaction ('combining', pointing at
the carrier in `combined_into`) and become 'combined' in the transaction that writes the
carrier's outcome, so they are never sent on their own. A carrier claimed again after a crash
goes out with the same group under the same idempotency key (its outbox id).

Reading the partners costs one query per claim, and only when a due row of the batch has a
debtor and a consolidating journey.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from markupsafe import escape
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from engine.core.channels import CHANNELS
from engine.core.clock import naive_utc
from engine.core.messages import msg
from engine.journey.document import Journey
from engine.journey.templating import Rendered, long_date, money
from engine.storage.models import CaseRow, OutboxRow

# A case's later messages wait while an earlier one is unresolved; an absorbed row whose carrier
# is in flight is unresolved too.
COMBINING = "combining"
COMBINED = "combined"

ITEMS_HEADER = msg("Your open items:")
ITEM_LINE = msg(
    "{reference}, due {due_date}: {principal}, fees {fees}, interest {interest}, total {total}"
)
ITEMS_TOTAL = msg("Total of {count} items: {total}")
SMS_SUMMARY = msg("{count} open items, total {total}.")

Key = tuple[int, str, str]  # (debtor id, channel, currency)


@dataclass
class Member:
    """One row of a combined message, with its case and journey."""

    message: OutboxRow
    case: CaseRow
    journey: Journey


@dataclass
class Plan:
    """The partners one claim may combine: by debtor, channel and currency."""

    partners: dict[Key, list[Member]] = field(default_factory=lambda: defaultdict(list))
    # Rows absorbed before a crash, by their carrier's id: the carrier goes with them again.
    linked: dict[int, list[Member]] = field(default_factory=lambda: defaultdict(list))
    # Rows this claim decided or absorbed already: none is taken twice.
    taken: set[int] = field(default_factory=set)

    def group(self, carrier: Member, now: datetime) -> list[Member]:
        """The rows going out with this due row (itself first), taken from the plan."""
        linked = self.linked.get(carrier.message.id)
        if linked:  # formed at an earlier claim: the same group, never a bigger one
            self.taken.update(m.message.id for m in linked)
            return [carrier, *linked]
        window = carrier.journey.consolidation_window
        # A row claimed again after its lease ran out may have reached the provider alone: its
        # resend (same key, dropped as a duplicate) must not carry anything new.
        if window is None or carrier.case.debtor_id is None or carrier.message.status != "pending":
            return [carrier]
        members = [carrier]
        until = naive_utc(now + window)
        for partner in self.partners.get(key_of(carrier.message, carrier.case), ()):
            pid = partner.message.id
            if pid in self.taken or pid == carrier.message.id:
                continue
            if partner.journey.consolidation_window is None or partner.message.not_before > until:
                continue
            if any(m.case.id == partner.case.id for m in members):  # one row per case
                continue
            self.taken.add(pid)
            members.append(partner)
        return carrier_first(members)


def key_of(message: OutboxRow, case: CaseRow) -> Key:
    """Which messages may be combined: one debtor, one channel, one currency."""
    return (case.debtor_id or 0, message.channel, case.currency)


def carrier_first(members: list[Member]) -> list[Member]:
    """The group with its carrier first: the highest tone, then the most overdue, then oldest."""
    best = max(
        members,
        key=lambda m: (m.message.tone or 0, -m.case.due_date.toordinal(), -m.message.id),
    )
    return [best, *(m for m in members if m is not best)]


def plan(
    session: Session,
    due: list[tuple[OutboxRow, CaseRow]],
    now: datetime,
    journey_of: Any,
) -> Plan | None:
    """The partners of the batch's consolidating rows, or None when no due row consolidates.

    `journey_of(version_id)` gives a row's journey (the dispatcher's version cache). One query
    for the rows absorbed before a crash by carriers of this batch, one for the debtors' other
    pending rows within the longest window; rows of this batch join as partners too.
    """
    windows = {}
    for message, case in due:
        if case.debtor_id is None:
            continue
        window = journey_of(message.version_id).consolidation_window
        if window is not None:
            windows[message.id] = window
    if not windows:
        return None
    found = Plan()
    carriers = list(windows)
    linked = session.execute(
        select(OutboxRow, CaseRow)
        .join(CaseRow, CaseRow.id == OutboxRow.case_id)
        .where(OutboxRow.combined_into.in_(carriers), OutboxRow.status == COMBINING)
        .order_by(OutboxRow.id)
    )
    for message, case in linked:
        member = Member(message, case, journey_of(message.version_id))
        found.linked[message.combined_into].append(member)  # type: ignore[index]
    debtors = {case.debtor_id for message, case in due if message.id in windows}
    longest = max(windows.values(), default=timedelta(0))
    earlier, absorbed = aliased(OutboxRow), aliased(OutboxRow)
    query = (
        select(OutboxRow, CaseRow)
        .join(CaseRow, CaseRow.id == OutboxRow.case_id)
        .where(
            CaseRow.debtor_id.in_(debtors),
            CaseRow.status == "active",
            OutboxRow.status == "pending",
            OutboxRow.combined_into.is_(None),
            OutboxRow.channel.in_(tuple(CHANNELS)),
            OutboxRow.not_before <= naive_utc(now + longest),
            # Each case's earliest unresolved message only: a case's messages go in order.
            ~exists().where(
                earlier.case_id == OutboxRow.case_id,
                earlier.id < OutboxRow.id,
                earlier.channel.in_(tuple(CHANNELS)),
                earlier.status.in_(("pending", "sending", COMBINING)),
            ),
            # A carrier waiting for its retry keeps its own group; it joins no other.
            ~exists().where(absorbed.combined_into == OutboxRow.id),
        )
        .order_by(OutboxRow.not_before, OutboxRow.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=OutboxRow, skip_locked=True)
    in_batch = {message.id for message, _ in due}
    for message, case in session.execute(query):
        if message.id not in in_batch:
            member = Member(message, case, journey_of(message.version_id))
            found.partners[key_of(message, case)].append(member)
    for message, case in due:  # the batch's own pending rows may join each other
        fresh = message.status == "pending" and message.id not in found.linked
        if message.id in windows and fresh and case.status == "active":
            member = Member(message, case, journey_of(message.version_id))
            found.partners[key_of(message, case)].append(member)
    for members in found.partners.values():
        members.sort(key=lambda m: (m.message.not_before, m.message.id))
    return found


def items_of(members: list[Member], items: list[dict[str, Any]]) -> dict[str, Any]:
    """The template variables of a combined message: its items by due date and their total."""
    ordered = sorted(items, key=lambda item: (item["due_date"], item["reference"]))
    total = sum((Decimal(item["total_due"]) for item in ordered), Decimal(0))
    return {"items": ordered, "items_count": len(ordered), "items_total": total}


def mentions_items(journey: Journey, template_key: str, locale: str, tone: int) -> bool:
    """Whether the variant this message renders from lists the items itself."""
    template = journey.templates.get(template_key)
    variant = template.variant(locale, tone) if template is not None else None
    return variant is not None and "items" in variant.body


def with_items_block(
    rendered: Rendered, channel: str, context: dict[str, Any], locale: str
) -> Rendered:
    """A combined message whose template does not loop over the items gets them appended.

    SMS gets one line with the count and total; every other channel the list (reference, due
    date, principal, fees, interest, total) and the total, in the debtor's language.
    """
    lang = locale.split("-")[0]
    currency = context["items"][0]["currency"]
    total = money(context["items_total"], currency, locale)
    if channel == "sms":
        line = SMS_SUMMARY.with_params(count=context["items_count"], total=total).text(lang)
        return Rendered(rendered.subject, f"{rendered.body.rstrip()}\n{line}", rendered.html)
    lines = [ITEMS_HEADER.text(lang)]
    for item in context["items"]:
        lines.append(
            "- "
            + ITEM_LINE.with_params(
                reference=item["reference"],
                due_date=long_date(item["due_date"], locale),
                principal=money(item["principal"], currency, locale),
                fees=money(item["fees"], currency, locale),
                interest=money(item["interest"], currency, locale),
                total=money(item["total_due"], currency, locale),
            ).text(lang)
        )
    lines.append(ITEMS_TOTAL.with_params(count=context["items_count"], total=total).text(lang))
    body = f"{rendered.body.rstrip()}\n\n" + "\n".join(lines)
    html = rendered.html
    if html is not None:
        html += "".join(f"<p>{escape(line)}</p>" for line in lines)
    return Rendered(rendered.subject, body, html)
