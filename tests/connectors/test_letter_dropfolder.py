"""The print vendor's drop folder: one batch per day, idempotent, atomic manifests."""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pypdf

from connectors.base import LetterConnector, LetterMessage, PostalAddress
from connectors.letter_dropfolder import DropFolderLetterConnector, read_manifest
from connectors.letter_pdf import RenderedLetter

SENDER = PostalAddress("Muster Shop GmbH", "Hauptstr. 1", "10115", "Berlin", "DE")
RECIPIENT = PostalAddress("Erika Mustermann", "Heidestraße 17", "51147", "Köln", "DE")
LETTER = LetterMessage(
    "outbox-1", RECIPIENT, SENDER, "<p>Bitte zahlen.</p>", None, dt.date(2025, 11, 24), "Mahnung"
)
NOON = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)


class Clock:
    """A hand-set clock so batches follow the test, not the wall."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def fake_render(msg: LetterMessage) -> RenderedLetter:
    return RenderedLetter(pdf=b"%PDF-1.7 " + msg.idempotency_key.encode(), pages=2)


def folder(tmp_path: Path, clock: Clock | None = None, **kw) -> DropFolderLetterConnector:
    return DropFolderLetterConnector(
        tmp_path, clock=clock or Clock(NOON), renderer=fake_render, **kw
    )


def test_satisfies_the_letter_protocol(tmp_path: Path) -> None:
    assert isinstance(folder(tmp_path), LetterConnector)


def test_pdf_is_named_by_key_inside_the_days_batch(tmp_path: Path) -> None:
    result = folder(tmp_path).send(LETTER)
    assert (result.status, result.provider_message_id) == ("accepted", "2025-11-24/outbox-1.pdf")
    assert (tmp_path / "2025-11-24" / "outbox-1.pdf").read_bytes() == b"%PDF-1.7 outbox-1"


def test_manifest_lists_each_letter_once(tmp_path: Path) -> None:
    drop = folder(tmp_path)
    drop.send(LETTER)
    drop.send(replace(LETTER, idempotency_key="outbox-2"))
    drop.send(LETTER)
    keys = [e["idempotency_key"] for e in read_manifest(tmp_path / "2025-11-24")]
    assert keys == ["outbox-1", "outbox-2"]


def test_same_key_twice_writes_one_file(tmp_path: Path) -> None:
    drop = folder(tmp_path)
    first, second = drop.send(LETTER), drop.send(LETTER)
    assert first.provider_message_id == second.provider_message_id
    assert sorted(p.name for p in (tmp_path / "2025-11-24").glob("*.pdf")) == ["outbox-1.pdf"]


def test_retry_after_midnight_does_not_print_twice(tmp_path: Path) -> None:
    clock = Clock(NOON)
    drop = folder(tmp_path, clock)
    drop.send(LETTER)
    clock.now = NOON + dt.timedelta(days=1)
    assert drop.send(LETTER).provider_message_id == "2025-11-24/outbox-1.pdf"
    assert not (tmp_path / "2025-11-25").exists()


def test_next_day_opens_a_new_batch(tmp_path: Path) -> None:
    clock = Clock(NOON)
    drop = folder(tmp_path, clock)
    drop.send(LETTER)
    clock.now = NOON + dt.timedelta(days=1)
    drop.send(replace(LETTER, idempotency_key="outbox-2"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025-11-24", "2025-11-25"]


def test_manifest_json_and_csv_agree(tmp_path: Path) -> None:
    folder(tmp_path).send(LETTER)
    batch = tmp_path / "2025-11-24"
    document = json.loads((batch / "manifest.json").read_text())
    with open(batch / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert (document["count"], rows[0]["recipient_city"], rows[0]["pages"]) == (1, "Köln", "2")
    assert document["letters"][0]["sha256"] == rows[0]["sha256"]


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    folder(tmp_path).send(LETTER)
    visible = sorted(p.name for p in (tmp_path / "2025-11-24").iterdir())
    assert visible == [".lock", "manifest.csv", "manifest.json", "outbox-1.pdf"]


def test_cost_is_per_letter_plus_per_page(tmp_path: Path) -> None:
    drop = folder(tmp_path, price_per_letter="0.85", price_per_page=Decimal("0.10"))
    assert drop.send(LETTER).cost == Decimal("1.05")


def test_unsafe_key_is_refused(tmp_path: Path) -> None:
    result = folder(tmp_path).send(replace(LETTER, idempotency_key="../evil"))
    assert (result.status, list(tmp_path.iterdir())) == ("permanent_failure", [])


def test_bad_address_is_permanent_with_the_field(tmp_path: Path) -> None:
    drop = DropFolderLetterConnector(tmp_path, clock=Clock(NOON))
    result = drop.send(replace(LETTER, recipient=replace(RECIPIENT, postcode="")))
    assert result.status == "permanent_failure"
    assert "recipient.postcode" in (result.reason or "")


def test_unwritable_folder_is_temporary(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = folder(blocker).send(LETTER)
    assert result.status == "temporary_failure"


def test_real_rendering_lands_a_readable_pdf(tmp_path: Path) -> None:
    DropFolderLetterConnector(tmp_path, clock=Clock(NOON)).send(LETTER)
    reader = pypdf.PdfReader(tmp_path / "2025-11-24" / "outbox-1.pdf")
    assert "Erika Mustermann" in reader.pages[0].extract_text()
