"""Letters rendered to PDF and read back: address window, page numbers, GiroCode block."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace
from decimal import Decimal

import pypdf
import pytest
import segno

from connectors.base import GiroPayment, InvalidAddressError, LetterMessage, PostalAddress
from connectors.letter_pdf import format_amount, render_letter

MM_PER_PT = 25.4 / 72
SENDER = PostalAddress("Muster Shop GmbH", "Hauptstr. 1", "10115", "Berlin", "DE")
RECIPIENT = PostalAddress("Erika Mustermann", "Heidestraße 17", "51147", "Köln", "DE")
GIRO = GiroPayment(
    "Muster Shop GmbH", "DE89370400440532013000", "COBADEFFXXX", Decimal("89"), "EUR", "RE 4711"
)


def letter(paragraphs: int = 2, **changes: object) -> LetterMessage:
    body = "".join(
        f"<p>Absatz {i}: Bitte zahlen Sie den offenen Betrag.</p>" for i in range(paragraphs)
    )
    base = LetterMessage(
        idempotency_key="outbox-9",
        recipient=RECIPIENT,
        sender=SENDER,
        html=body,
        css="p { margin: 0 0 4mm; }",
        date=dt.date(2025, 11, 24),
        subject="Zahlungserinnerung",
        giro=GIRO,
    )
    return replace(base, **changes)


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def positions_mm(pdf: bytes) -> dict[str, tuple[float, float]]:
    """Text baseline positions on page 1 as (mm from left, mm from top)."""
    found: dict[str, tuple[float, float]] = {}

    def visit(text, cm, tm, font, size) -> None:
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        found.setdefault(text.strip(), (x * MM_PER_PT, 297 - y * MM_PER_PT))

    pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


@pytest.fixture(scope="module")
def short_pdf() -> bytes:
    return render_letter(letter()).pdf


@pytest.fixture(scope="module")
def long_letter():
    return render_letter(letter(paragraphs=45))


def test_recipient_address_is_printed(short_pdf: bytes) -> None:
    assert "Erika Mustermann\nHeidestraße 17\n51147 Köln" in pages_text(short_pdf)[0]


def test_return_address_line_is_printed(short_pdf: bytes) -> None:
    assert "Muster Shop GmbH · Hauptstr. 1 · 10115 Berlin" in pages_text(short_pdf)[0]


def test_recipient_sits_in_the_address_zone_of_the_window(short_pdf: bytes) -> None:
    # Form B window: 20-105 mm from the left; address zone 62.7-90 mm from the top.
    x, y = positions_mm(short_pdf)["Erika Mustermann"]
    assert 20 <= x <= 30 and 62.7 < y < 90


def test_return_line_sits_above_the_recipient_inside_the_window(short_pdf: bytes) -> None:
    spots = positions_mm(short_pdf)
    _, y_return = spots["Muster Shop GmbH · Hauptstr. 1 · 10115 Berlin"]
    assert 45 < y_return < spots["Erika Mustermann"][1] <= 90


def test_single_page_letter_says_seite_1_von_1(short_pdf: bytes) -> None:
    assert pages_text(short_pdf)[0].rstrip().endswith("Seite 1 von 1")


def test_long_letter_numbers_every_page(long_letter) -> None:
    texts = pages_text(long_letter.pdf)
    labels = [t.rstrip().splitlines()[-1] for t in texts]
    assert labels == [f"Seite {i} von {len(texts)}" for i in range(1, len(texts) + 1)]
    assert long_letter.pages == len(texts) > 1


def test_english_letter_says_page_x_of_y() -> None:
    pdf = render_letter(letter(language="en")).pdf
    text = pages_text(pdf)[0]
    assert "Page 1 of 1" in text and "24 November 2025" in text


def test_german_date_is_printed(short_pdf: bytes) -> None:
    assert "24.11.2025" in pages_text(short_pdf)[0]


def test_giro_block_prints_iban_and_amount(short_pdf: bytes) -> None:
    text = pages_text(short_pdf)[0]
    assert "DE89 3704 0044 0532 0130 00" in text and "89,00 EUR" in text


def test_mail_abroad_gets_a_country_line_in_capitals() -> None:
    vienna = PostalAddress("Max Muster", "Ring 1", "1010", "Wien", "AT")
    assert "1010 Wien\nÖSTERREICH" in pages_text(render_letter(letter(recipient=vienna)).pdf)[0]


def test_missing_street_names_the_field() -> None:
    with pytest.raises(InvalidAddressError) as caught:
        render_letter(letter(recipient=replace(RECIPIENT, street=" ")))
    assert caught.value.field == "recipient.street"


def test_address_fields_are_escaped() -> None:
    pdf = render_letter(letter(recipient=replace(RECIPIENT, name="A <b>&</b> B"), giro=None)).pdf
    assert "A <b>&</b> B" in pages_text(pdf)[0]


def test_local_files_are_not_loaded_into_the_letter(tmp_path) -> None:
    png = tmp_path / "logo.png"
    segno.make("x").save(str(png))
    pdf = render_letter(letter(html=f'<img src="file://{png}">', giro=None)).pdf
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images) == 0


def test_data_uri_images_are_loaded() -> None:
    uri = segno.make("x").png_data_uri()
    pdf = render_letter(letter(html=f'<img src="{uri}">', giro=None)).pdf
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images) == 1


def test_amount_formats() -> None:
    assert (format_amount(Decimal("1234.5"), "de"), format_amount(Decimal("1234.5"), "en")) == (
        "1.234,50 EUR",
        "EUR 1,234.50",
    )
