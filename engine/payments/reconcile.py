"""Bank statement reconciliation: each credit line matched to a case and booked exactly once.

`import_statement` reads a CAMT.053 or MT940 file (connectors.bank_statements), stores the
import (who, when, file name, sha256) and each line once (unique on its stable line id, so a
file read twice books nothing twice), and matches every new credit line:

1. by our RF creditor reference (engine.payments.references), in the structured reference or
   anywhere in the remittance text: exact, check digits and prefix verified;
2. else by a case's external id or invoice reference written in the remittance text, as a
   whole word of at least 4 characters holding a digit (so "Auftrag 99" matches no case "99");
3. then the case is checked: same currency, still open; the amount is noted as full, partial
   or overpayment against what is open.

A matched line records a `payment_received` event through the one event intake
(`engine.intake.events.record_event`) with an event id made from the line id, so it is booked
once whatever happens twice. Debits and reversals are kept as ignored; every other line stays
unmatched with the reason in words for a person, who assigns it to a case (`assign_line`) or
dismisses it (`dismiss_line`); both are audited.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import iso11649

from connectors.bank_statements import (
    Statement,
    StatementLine,
    parse_statement,
)
from connectors.bank_statements import (
    StatementError as StatementError,  # re-exported: engine.StatementError
)
from engine.core.case_status import is_open
from engine.core.clock import naive_utc
from engine.core.messages import Message, msg
from engine.intake.events import record_event
from engine.payments.references import case_id_of_reference, find_references
from engine.storage.db import in_chunks
from engine.storage.models import (
    AuditRow,
    CaseRow,
    EventRow,
    StatementImportRow,
    StatementLineRow,
)

EVENT_PREFIX = "bank:"
MIN_TOKEN = 4
FLUSH_EVERY = 100
MAX_TOKENS = 60
_SPLIT = re.compile(r"[\s,;:+]+")

# Why a line is unmatched or ignored, in words for a person (German in the catalog).
REASONS: dict[str, Message] = {
    "debit": msg("Money going out: not a debtor's payment."),
    "reversal": msg("The bank reverses an earlier booking."),
    "no_reference": msg("No case reference or case id in the payment's text."),
    "unknown_reference": msg("The RF reference {reference} names no case."),
    "ambiguous": msg("The payment's text names several cases: {cases}."),
    "currency": msg("The payment is in {currency}, case {case} is in {case_currency}."),
    "case_closed": msg("Case {case} is already closed; the money may need to go back."),
    "invalid": msg("The payment could not be booked: {problem}"),
}
AMOUNT_NOTES: dict[str, Message] = {
    "full": msg("pays what is open"),
    "partial": msg("pays part of what is open"),
    "overpayment": msg("pays {excess} {currency} more than is open"),
}


class LineDecisionError(ValueError):
    """A person's assignment or dismissal that cannot be done; `words` says why."""

    def __init__(self, words: Message) -> None:
        super().__init__(words.text())
        self.words = words


@dataclass(frozen=True)
class ImportSummary:
    """What one statement import did."""

    import_id: int
    filename: str
    format: str
    lines: int  # lines in the file
    new: int  # lines not seen before (the rest were booked by an earlier import)
    matched: int
    unmatched: int
    ignored: int


@dataclass(frozen=True)
class CaseInfo:
    """What booking a line needs of a case: read as plain columns, not ORM objects, because
    every event's "mark the case due" UPDATE checks each CaseRow the session holds."""

    id: int
    external_id: str
    reference: str | None
    currency: str
    status: str
    amount_open: Decimal
    version_id: int
    node_id: str


_CASE_COLUMNS = (
    CaseRow.id,
    CaseRow.external_id,
    CaseRow.reference,
    CaseRow.currency,
    CaseRow.status,
    CaseRow.amount_open,
    CaseRow.version_id,
    CaseRow.node_id,
)


def _case_infos(session: Session, where: Any) -> list[CaseInfo]:
    return [CaseInfo(*row) for row in session.execute(select(*_CASE_COLUMNS).where(where))]


@dataclass(frozen=True)
class Match:
    """What the rules found for one line: a case and its rule, or the reason there is none."""

    case: CaseInfo | None
    rule: str | None = None
    reason: str | None = None
    detail: dict[str, Any] | None = None


def event_id_of(line_id: str) -> str:
    """The payment event's id for a statement line: the same line always makes the same id."""
    return f"{EVENT_PREFIX}{line_id[:48]}"


def decimal_amount(amount_minor: int, currency: str) -> Decimal:
    """Minor units back to the currency's decimal amount (1250 EUR -> 12.50)."""
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def import_statement(
    session: Session,
    data: bytes,
    filename: str,
    by: str,
    now: datetime,
    prefix: str | None = None,
    max_bytes: int | None = None,
) -> ImportSummary:
    """Read a statement file, store it and its new lines, and book what matches.

    Raises connectors' StatementError (naming the line or element) for a file that cannot be
    read; nothing is stored then.
    """
    limits = {} if max_bytes is None else {"max_bytes": max_bytes}
    statement: Statement = parse_statement(data, **limits)
    record = StatementImportRow(
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        format=statement.format,
        imported_by=by[:254],
        imported_at=naive_utc(now),
        lines_total=len(statement.lines),
        lines_new=0,
    )
    session.add(record)
    session.flush()
    counts = {"matched": 0, "unmatched": 0, "ignored": 0}
    known = _known_lines(session, [line.line_id for line in statement.lines])
    fresh: dict[str, StatementLine] = {}
    for line in statement.lines:  # a bank repeating an entry reference in one file: once
        if line.line_id not in known:
            fresh.setdefault(line.line_id, line)
    stored = _store_lines(session, record.id, list(fresh.values()))
    record.lines_new = len(stored)
    payments = [(row, line) for row, line in stored if line.credit and not line.reversal]
    lookup = CaseLookup.load(session, [line for _row, line in payments], prefix)
    decided: list[StatementLineRow] = []
    for row, line in stored:
        _decide(session, row, line, lookup, now)
        counts[row.status] += 1
        decided.append(row)
        if len(decided) == FLUSH_EVERY:
            _lighten(session, decided)
            decided = []
    return ImportSummary(
        record.id, record.filename, record.format, record.lines_total, record.lines_new, **counts
    )


def _lighten(session: Session, decided: list[StatementLineRow]) -> None:
    """Write what is pending and let go of what was written: each event's "mark the case due"
    UPDATE checks every object the session holds, so a session that keeps them all makes a
    large statement quadratic. Lines not yet decided stay."""
    session.flush()
    for row in decided:
        session.expunge(row)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CaseRow | EventRow | AuditRow):
            session.expunge(obj)


def _known_lines(session: Session, line_ids: list[str]) -> set[str]:
    known: set[str] = set()
    for chunk in in_chunks(line_ids):
        known.update(
            session.scalars(
                select(StatementLineRow.line_id).where(StatementLineRow.line_id.in_(chunk))
            )
        )
    return known


def _line_row(import_id: int, line: StatementLine) -> StatementLineRow:
    return StatementLineRow(
        line_id=line.line_id,
        import_id=import_id,
        place=line.where[:40],
        account=line.account[:64],
        statement_id=line.statement_id[:100],
        entry_ref=line.entry_ref[:100],
        booking_date=line.booking_date,
        amount_minor=line.amount_minor,
        currency=line.currency,
        credit=line.credit,
        reference=(line.reference or None) and line.reference[:140],
        remittance=line.remittance,
        debtor_name=(line.debtor_name or None) and line.debtor_name[:200],
        debtor_iban=(line.debtor_iban or None) and line.debtor_iban[:34],
        status="unmatched",
        detail={},
    )


def _store_lines(
    session: Session, import_id: int, lines: list[StatementLine]
) -> list[tuple[StatementLineRow, StatementLine]]:
    """Store the new lines in one flush; if another import stored some of them a moment ago
    (the unique line id refuses them), store one by one and leave those to it."""
    pairs = [(_line_row(import_id, line), line) for line in lines]
    try:
        with session.begin_nested():
            session.add_all([row for row, _line in pairs])
    except IntegrityError:
        stored = [(_store_one(session, import_id, line), line) for _row, line in pairs]
        pairs = [(row, line) for row, line in stored if row is not None]
    return pairs


def _store_one(session: Session, import_id: int, line: StatementLine) -> StatementLineRow | None:
    row = _line_row(import_id, line)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


class CaseLookup:
    """The cases a batch of lines may name, read in a few queries rather than per line:
    by row id (from RF references), by external id and by invoice reference."""

    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix
        self.by_id: dict[int, CaseInfo] = {}
        self.by_external_id: dict[str, CaseInfo] = {}
        self.by_reference: dict[str, list[CaseInfo]] = {}
        # Booked in this import and not yet applied by a tick: the next line for the same case
        # is compared with what is then still open.
        self.booked: dict[int, Decimal] = {}

    @classmethod
    def load(cls, session: Session, lines: list[StatementLine], prefix: str | None) -> CaseLookup:
        """Read every case the lines' references and words could name."""
        lookup = cls(prefix)
        ids: set[int] = set()
        tokens: set[str] = set()
        for line in lines:
            for ref in _rf_references(line.reference, line.remittance, prefix):
                case_id = case_id_of_reference(ref, prefix)
                if case_id is not None:
                    ids.add(case_id)
            tokens.update(_tokens(" ".join(t for t in (line.reference, line.remittance) if t)))
        for chunk in in_chunks(sorted(ids)):
            for case in _case_infos(session, CaseRow.id.in_(chunk)):
                lookup.by_id[case.id] = case
        for chunk in in_chunks(sorted(tokens)):
            for case in _case_infos(session, CaseRow.external_id.in_(chunk)):
                lookup.by_external_id[case.external_id] = case
            for case in _case_infos(session, CaseRow.reference.in_(chunk)):
                lookup.by_reference.setdefault(case.reference or "", []).append(case)
        return lookup

    def match(self, reference: str | None, remittance: str) -> Match:
        """The case a payer's reference and text name (RF first, then words), or why none."""
        unknown: list[str] = []
        cases: list[CaseInfo] = []
        for ref in _rf_references(reference, remittance, self.prefix):
            case_id = case_id_of_reference(ref, self.prefix)
            case = self.by_id.get(case_id) if case_id is not None else None
            if case is None:
                unknown.append(ref)
            elif case not in cases:
                cases.append(case)
        if len(cases) == 1:
            return Match(cases[0], "rf")
        if len(cases) > 1:
            return _ambiguous(cases)
        tokens = _tokens(" ".join(t for t in (reference, remittance) if t))
        found = list({c.id: c for t in tokens if (c := self.by_external_id.get(t))}.values())
        rule = "external_id"
        if not found:
            by_reference = [c for t in tokens for c in self.by_reference.get(t, [])]
            found = list({c.id: c for c in by_reference}.values())
            rule = "reference"
        if len(found) == 1:
            return Match(found[0], rule)
        if len(found) > 1:
            return _ambiguous(sorted(found, key=lambda c: c.id))
        if unknown:
            return Match(None, reason="unknown_reference", detail={"reference": unknown[0]})
        return Match(None, reason="no_reference")


def _decide(
    session: Session,
    row: StatementLineRow,
    line: StatementLine,
    lookup: CaseLookup,
    now: datetime,
) -> None:
    if not line.credit or line.reversal:
        row.status, row.reason = "ignored", "reversal" if line.reversal else "debit"
        return
    found = lookup.match(line.reference, line.remittance)
    if found.case is None:
        row.reason, row.detail = found.reason, found.detail or {}
        return
    _book(session, row, found.case, found.rule or "", now, None, lookup.booked)


def match_line(
    session: Session, reference: str | None, remittance: str, prefix: str | None = None
) -> Match:
    """The case one payer's reference and text name (rule 1 then 2), or why none."""
    probe = StatementLine(
        line_id="",
        account="",
        statement_id="",
        entry_ref="",
        booking_date=date.min,
        amount_minor=1,
        currency="EUR",
        credit=True,
        reversal=False,
        reference=reference,
        remittance=remittance,
        debtor_name=None,
        debtor_iban=None,
        where="",
    )
    return CaseLookup.load(session, [probe], prefix).match(reference, remittance)


def _rf_references(reference: str | None, remittance: str, prefix: str | None) -> list[str]:
    """Our RF references in a line: the structured one exactly as written when it is a valid
    RF reference, else any found in the structured field or the text."""
    if reference and iso11649.is_valid(iso11649.compact(reference)):
        return [iso11649.compact(reference)]

    def ours(ref: str) -> bool:
        return case_id_of_reference(ref, prefix) is not None

    found = find_references(reference or "", ours) + find_references(remittance, ours)
    return list(dict.fromkeys(found))


def _ambiguous(cases: list[CaseInfo]) -> Match:
    return Match(
        None, reason="ambiguous", detail={"cases": ", ".join(c.external_id for c in cases)}
    )


def _tokens(text: str) -> list[str]:
    """Whole words that could be a case id or invoice number: 4+ characters with a digit."""
    words = []
    for raw in _SPLIT.split(text):
        word = raw.strip(".()[]\"'")
        usable = MIN_TOKEN <= len(word) <= 100 and any(ch.isdigit() for ch in word)
        if usable and word not in words:
            words.append(word)
    return words[:MAX_TOKENS]


def _book(
    session: Session,
    row: StatementLineRow,
    case: CaseInfo,
    rule: str,
    now: datetime,
    by: str | None,
    booked: dict[int, Decimal] | None = None,
) -> bool:
    """Check the case and record the payment; leaves the line unmatched with a reason if not."""
    amount = decimal_amount(row.amount_minor, row.currency)
    if row.currency != case.currency:
        row.status, row.reason = "unmatched", "currency"
        row.detail = {
            "currency": row.currency,
            "case": case.external_id,
            "case_currency": case.currency,
        }
        return False
    if not is_open(case.status):
        row.status, row.reason = "unmatched", "case_closed"
        row.detail = {"case": case.external_id}
        return False
    earlier = (booked or {}).get(case.id, Decimal(0))
    open_amount = max(Decimal(0), Decimal(case.amount_open) - earlier)
    note = "full" if amount == open_amount else "partial" if amount < open_amount else "overpayment"
    event_id = event_id_of(row.line_id)
    payload = {"amount": str(amount), "currency": row.currency}
    occurred = datetime.combine(row.booking_date, time(12))
    try:
        record_event(
            session, case.external_id, event_id, "payment_received", payload, now, occurred
        )
    except ValidationError as exc:
        row.status, row.reason = "unmatched", "invalid"
        row.detail = {"problem": str(exc.messages)}
        return False
    if booked is not None:
        booked[case.id] = earlier + amount
    row.status = "assigned" if by else "matched"
    row.rule, row.reason, row.case_id, row.event_id = rule, None, case.id, event_id
    row.amount_note = note
    row.detail = (
        {"excess": str(amount - open_amount), "currency": row.currency}
        if note == "overpayment"
        else {}
    )
    session.add(
        AuditRow(
            at=naive_utc(now),
            case_id=case.id,
            version_id=case.version_id,
            node_id=case.node_id,
            kind="bank_line_assigned" if by else "bank_line_matched",
            rule=rule,
            detail={
                "line": row.line_id,
                "amount": str(amount),
                "currency": row.currency,
                "amount_note": note,
                "by": by or "",
            },
        )
    )
    return True


def _open_line(session: Session, line_pk: int) -> StatementLineRow:
    row = session.get(StatementLineRow, line_pk, with_for_update=True)
    if row is None:
        raise LineDecisionError(msg("There is no statement line {line}.", line=line_pk))
    if row.status != "unmatched":
        raise LineDecisionError(msg("This line was decided already ({status}).", status=row.status))
    return row


def assign_line(
    session: Session, line_pk: int, case_external_id: str, by: str, now: datetime
) -> StatementLineRow:
    """A person books an unmatched line to a case (audited); LineDecisionError if it cannot be."""
    row = _open_line(session, line_pk)
    found = _case_infos(session, CaseRow.external_id == case_external_id.strip())
    case = found[0] if found else None
    if case is None:
        raise LineDecisionError(msg("There is no case '{case}'.", case=case_external_id.strip()))
    if row.currency != case.currency:
        raise LineDecisionError(
            REASONS["currency"].with_params(
                currency=row.currency, case=case.external_id, case_currency=case.currency
            )
        )
    if not is_open(case.status):
        raise LineDecisionError(REASONS["case_closed"].with_params(case=case.external_id))
    if not _book(session, row, case, "manual", now, by=by):
        raise LineDecisionError(REASONS[row.reason or "invalid"].with_params(**row.detail))
    row.decided_by, row.decided_at = by[:254], naive_utc(now)
    return row


def dismiss_line(
    session: Session, line_pk: int, by: str, now: datetime, note: str = ""
) -> StatementLineRow:
    """A person says an unmatched line is no case's payment (audited); nothing is booked."""
    row = _open_line(session, line_pk)
    row.status, row.decided_by, row.decided_at = "dismissed", by[:254], naive_utc(now)
    row.detail = {**(row.detail or {}), "note": note[:500]}
    session.add(
        AuditRow(
            at=naive_utc(now),
            kind="bank_line_dismissed",
            detail={"line": row.line_id, "by": by, "note": note[:500]},
        )
    )
    return row


def line_reason(row: StatementLineRow) -> Message | None:
    """Why a line is unmatched or ignored, in words."""
    if row.reason is None or row.reason not in REASONS:
        return None
    return REASONS[row.reason].with_params(**(row.detail or {}))


def amount_note(row: StatementLineRow) -> Message | None:
    """How a booked line's amount compares with what was open."""
    if row.amount_note is None:
        return None
    return AMOUNT_NOTES[row.amount_note].with_params(**(row.detail or {}))


def recent_imports(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    """The latest imports with their lines counted by status, newest first."""
    imports = session.scalars(
        select(StatementImportRow).order_by(StatementImportRow.id.desc()).limit(limit)
    ).all()
    ids = [i.id for i in imports]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for import_id, status, count in session.execute(
            select(StatementLineRow.import_id, StatementLineRow.status, func.count())
            .where(StatementLineRow.import_id.in_(ids))
            .group_by(StatementLineRow.import_id, StatementLineRow.status)
        ):
            counts[import_id][status] = count
    return [
        {
            "id": i.id,
            "filename": i.filename,
            "format": i.format,
            "by": i.imported_by,
            "at": i.imported_at,
            "lines": i.lines_total,
            "new": i.lines_new,
            "matched": counts[i.id].get("matched", 0) + counts[i.id].get("assigned", 0),
            "unmatched": counts[i.id].get("unmatched", 0),
            "ignored": counts[i.id].get("ignored", 0),
            "dismissed": counts[i.id].get("dismissed", 0),
        }
        for i in imports
    ]


def unmatched_lines(session: Session, limit: int = 200) -> list[StatementLineRow]:
    """Lines waiting for a person, oldest booking first."""
    return list(
        session.scalars(
            select(StatementLineRow)
            .where(StatementLineRow.status == "unmatched")
            .order_by(StatementLineRow.booking_date, StatementLineRow.id)
            .limit(limit)
        )
    )
