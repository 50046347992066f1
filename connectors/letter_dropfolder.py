"""Hand letters to a print vendor as PDFs in one folder per day, with a manifest."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal

from connectors.atomic_files import locked, write_atomic
from connectors.base import InvalidAddressError, LetterMessage, SendResult, permanent, temporary
from connectors.letter_pdf import RenderedLetter, render_letter
from connectors.settings import as_decimal, from_settings

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MANIFEST_FIELDS = (
    "idempotency_key",
    "file",
    "pages",
    "sha256",
    "recipient_name",
    "recipient_postcode",
    "recipient_city",
    "recipient_country",
    "subject",
    "letter_date",
    "handed_over_at",
)


def _local_now() -> dt.datetime:
    return dt.datetime.now().astimezone()


class DropFolderLetterConnector:
    """Writes <path>/<YYYY-MM-DD>/<key>.pdf plus manifest.json and manifest.csv per batch."""

    channel: ClassVar[Literal["letter"]] = "letter"
    provider: ClassVar[str] = "dropfolder"

    def __init__(
        self,
        path: str | Path,
        price_per_letter: Decimal | str | None = None,
        price_per_page: Decimal | str | None = None,
        clock: Callable[[], dt.datetime] = _local_now,
        renderer: Callable[[LetterMessage], RenderedLetter] = render_letter,
    ) -> None:
        self.root = Path(path)
        self.price_per_letter = as_decimal("price_per_letter", price_per_letter)
        self.price_per_page = as_decimal("price_per_page", price_per_page)
        self.clock = clock
        self.renderer = renderer

    def send(self, msg: LetterMessage) -> SendResult:
        """Render and drop the letter once; a second send with the same key changes nothing."""
        key = msg.idempotency_key
        if not _SAFE_KEY.match(key):
            return permanent(f"Letter not sent: idempotency key {key!r} is not a safe file name")
        earlier = self._already_dropped(key)
        if earlier is not None:
            return SendResult(status="accepted", provider_message_id=earlier)
        try:
            letter = self.renderer(msg)
        except InvalidAddressError as exc:
            return permanent(f"Letter not sent: {exc}")
        now = self.clock()
        try:
            message_id = self._drop(msg, letter, now)
        except OSError as exc:
            return temporary(f"Could not write the letter to the drop folder {self.root}: {exc}")
        return SendResult(
            status="accepted", provider_message_id=message_id, cost=self._cost(letter)
        )

    def _drop(self, msg: LetterMessage, letter: RenderedLetter, now: dt.datetime) -> str:
        """Write the PDF first, then the manifest, so the manifest never names a missing file."""
        batch = self.root / now.date().isoformat()
        batch.mkdir(parents=True, exist_ok=True)
        name = f"{msg.idempotency_key}.pdf"
        with locked(batch):
            entries = read_manifest(batch)
            if not any(e["idempotency_key"] == msg.idempotency_key for e in entries):
                write_atomic(batch / name, letter.pdf)
                entries.append(_entry(msg, letter, name, now))
                _write_manifest(batch, entries)
        return f"{batch.name}/{name}"

    def _already_dropped(self, key: str) -> str | None:
        """Look in every batch, so a retry after midnight does not print the letter twice."""
        for pdf in sorted(self.root.glob(f"*/{key}.pdf")):
            return f"{pdf.parent.name}/{pdf.name}"
        return None

    def _cost(self, letter: RenderedLetter) -> Decimal | None:
        if self.price_per_letter is None and self.price_per_page is None:
            return None
        per_page = (self.price_per_page or Decimal(0)) * letter.pages
        return (self.price_per_letter or Decimal(0)) + per_page


def read_manifest(batch: Path) -> list[dict[str, Any]]:
    """The letters listed in a batch folder so far."""
    path = batch / "manifest.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text("utf-8"))["letters"])


def _write_manifest(batch: Path, entries: list[dict[str, Any]]) -> None:
    document = {"batch": batch.name, "count": len(entries), "letters": entries}
    write_atomic(batch / "manifest.json", json.dumps(document, indent=2).encode())
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_FIELDS)
    writer.writeheader()
    writer.writerows(entries)
    write_atomic(batch / "manifest.csv", buffer.getvalue().encode("utf-8"))


def _entry(
    msg: LetterMessage, letter: RenderedLetter, name: str, now: dt.datetime
) -> dict[str, Any]:
    r = msg.recipient
    return {
        "idempotency_key": msg.idempotency_key,
        "file": name,
        "pages": letter.pages,
        "sha256": hashlib.sha256(letter.pdf).hexdigest(),
        "recipient_name": r.name,
        "recipient_postcode": r.postcode,
        "recipient_city": r.city,
        "recipient_country": r.country,
        "subject": msg.subject,
        "letter_date": msg.date.isoformat(),
        "handed_over_at": now.isoformat(),
    }


def from_profile(settings: Mapping[str, Any]) -> DropFolderLetterConnector:
    """Registry factory for provider "dropfolder"."""
    return from_settings(DropFolderLetterConnector, settings)
