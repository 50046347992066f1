"""The statement inbox: bank statement files dropped into a folder are read and moved on.

MAHNWERK_STATEMENT_INBOX names the folder (a bank's EBICS client or an SFTP job writes there).
The worker's scheduler looks at it on every dispatch interval; each file that has not changed
for SETTLE_SECONDS (so a file still being written is left alone) is claimed by renaming it into
`work/` (an atomic rename: of two workers only one gets it), imported as user "inbox", and
moved to `done/`, or to `failed/` with a `<name>.reason.txt` beside it saying which line or
element is wrong. Names get the moment as a prefix, so a file of the same name never
overwrites an earlier one. Re-reading a file books nothing twice (line ids are unique).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from connectors.bank_statements import MAX_BYTES, StatementError
from engine.payments.reconcile import ImportSummary, import_statement
from engine.storage.db import Database

SETTLE_SECONDS = 5
SUBFOLDERS = ("work", "done", "failed")
INBOX_USER = "inbox"


@dataclass(frozen=True)
class InboxResult:
    """What became of one file: its import, or the reason it went to failed/."""

    name: str
    summary: ImportSummary | None = None
    problem: str | None = None


def process_inbox(
    db: Database, folder: str | Path, now: datetime, settle_seconds: float = SETTLE_SECONDS
) -> list[InboxResult]:
    """Import every settled file in the folder once; returns what became of each."""
    inbox = Path(folder)
    for sub in SUBFOLDERS:
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S")
    results = []
    for path in sorted(inbox.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        try:
            settled = now.timestamp() - path.stat().st_mtime >= settle_seconds
        except FileNotFoundError:  # another worker claimed it a moment ago
            continue
        if not settled:
            continue
        claimed = inbox / "work" / f"{stamp}-{path.name}"
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue
        results.append(_import(db, claimed, path.name, now))
    return results


def _import(db: Database, claimed: Path, name: str, now: datetime) -> InboxResult:
    inbox = claimed.parent.parent
    try:
        if claimed.stat().st_size > MAX_BYTES:
            raise StatementError("", f"the file is larger than {MAX_BYTES // 1024} kB")
        data = claimed.read_bytes()
        with db.transaction() as session:
            summary = import_statement(session, data, name, INBOX_USER, now)
    except StatementError as exc:
        failed = inbox / "failed" / claimed.name
        os.replace(claimed, failed)
        failed.with_name(failed.name + ".reason.txt").write_text(f"{exc}\n", encoding="utf-8")
        return InboxResult(name, problem=str(exc))
    except Exception:  # the database is away: the file goes back to be tried next time
        os.replace(claimed, inbox / name)
        raise
    os.replace(claimed, inbox / "done" / claimed.name)
    return InboxResult(name, summary=summary)
