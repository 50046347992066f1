"""Files a host attaches to a case (the invoice PDF): checked, stored once per case and kind."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.core.clock import naive_utc
from engine.journey.document import DOCUMENT_KINDS
from engine.storage.models import AuditRow, CaseDocumentRow, CaseRow

PDF_MAGIC = b"%PDF-"  # the first bytes of every PDF file; the name or header proves nothing
# What the SMTP connector accepts as a file name (connectors/validation.py).
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class DocumentRefused(ValueError):
    """A file that cannot be stored; `field` names what is wrong (`kind`, `body`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class StoredDocument:
    """What was stored and whether it was new, replaced an older file or was the same."""

    kind: str
    filename: str
    size: int
    sha256: str
    stored_at: datetime
    result: str  # created, replaced, unchanged


def document_filename(kind: str, external_id: str) -> str:
    """`invoice-<external id>.pdf`, with characters a mail client may mangle replaced."""
    return f"{kind}-{_UNSAFE.sub('-', external_id).strip('-.')[:80] or 'case'}.pdf"


def check_document(kind: str, data: bytes, max_bytes: int) -> None:
    """Raise DocumentRefused naming the field of a kind or file that cannot be stored."""
    if kind not in DOCUMENT_KINDS:
        raise DocumentRefused(
            "kind", f"Unknown document kind; the known kinds are: {', '.join(DOCUMENT_KINDS)}."
        )
    if not data:
        raise DocumentRefused("body", "The body is empty; send the PDF file as the body.")
    if len(data) > max_bytes:
        raise DocumentRefused(
            "body", f"The file has {len(data)} bytes; at most {max_bytes} are stored."
        )
    if not data.startswith(PDF_MAGIC):
        raise DocumentRefused("body", "This is not a PDF file: it does not begin with %PDF-.")


def store_document(
    session: Session, case: CaseRow, kind: str, data: bytes, now: datetime, max_bytes: int
) -> StoredDocument:
    """Store (or replace) the case's document of this kind, audited as `document_stored`."""
    check_document(kind, data, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    row = session.scalar(
        select(CaseDocumentRow).where(
            CaseDocumentRow.case_id == case.id, CaseDocumentRow.kind == kind
        )
    )
    at = naive_utc(now)
    filename = document_filename(kind, case.external_id)
    if row is not None and row.sha256 == digest:
        return StoredDocument(kind, row.filename, row.size, digest, row.stored_at, "unchanged")
    previous = row.sha256 if row is not None else None
    if row is None:
        row = CaseDocumentRow(case_id=case.id, kind=kind)
        session.add(row)
    row.filename, row.content_type, row.data = filename, "application/pdf", data
    row.size, row.sha256, row.stored_at = len(data), digest, at
    session.add(
        AuditRow(
            at=at,
            case_id=case.id,
            version_id=case.version_id,
            node_id=case.node_id,
            kind="document_stored",
            detail={"document": kind, "bytes": len(data), "sha256": digest, "replaced": previous},
        )
    )
    session.flush()
    return StoredDocument(
        kind, filename, len(data), digest, at, "replaced" if previous else "created"
    )


def load_document(session: Session, case_id: int, kind: str) -> CaseDocumentRow | None:
    """The case's stored document of this kind, or None."""
    return session.scalar(
        select(CaseDocumentRow).where(
            CaseDocumentRow.case_id == case_id, CaseDocumentRow.kind == kind
        )
    )
