"""Render a LetterMessage to a PDF in DIN 5008 form B layout with WeasyPrint."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_date

from connectors.base import GiroPayment, LetterMessage, PostalAddress
from connectors.girocode import compact, girocode_svg_data_uri
from connectors.letter_css import DIN5008_CSS
from connectors.validation import check_postal_address

_PAGE_LABEL = {
    "de": '"Seite " counter(page) " von " counter(pages)',
    "en": '"Page " counter(page) " of " counter(pages)',
}
_GIRO_LABELS = {
    "de": ("Überweisung", "Empfänger", "Betrag", "Verwendungszweck", "Mit der Banking-App scannen"),
    "en": ("Bank transfer", "Beneficiary", "Amount", "Reference", "Scan with your banking app"),
}
_DATE_LABEL = {"de": "Datum", "en": "Date"}


@dataclass(frozen=True)
class RenderedLetter:
    """The PDF and its page count, which is what print vendors bill by."""

    pdf: bytes
    pages: int


def render_letter(msg: LetterMessage) -> RenderedLetter:
    """Render the letter to PDF; raises InvalidAddressError for unusable addresses."""
    # Imported here so that email and SMS work on machines without pango installed.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    check_postal_address("recipient", msg.recipient)
    check_postal_address("sender", msg.sender)
    stylesheets = [CSS(string=DIN5008_CSS), CSS(string=_page_label_css(msg.language))]
    if msg.css:
        stylesheets.append(CSS(string=msg.css))
    # Only data: URIs: a template must not make the renderer read local files or the network.
    fetcher = URLFetcher(allowed_protocols={"data"})
    document = HTML(string=letter_html(msg), url_fetcher=fetcher).render(stylesheets=stylesheets)
    return RenderedLetter(pdf=document.write_pdf(), pages=len(document.pages))


def letter_html(msg: LetterMessage) -> str:
    """The whole letter as one HTML document: frame elements first, then the body."""
    lang = _lang(msg.language)
    giro = _giro_html(msg.giro, lang) if msg.giro else ""
    return f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{escape(msg.subject)}</title></head>
<body>
<div class="din-mark din-fold-1"></div><div class="din-mark din-punch"></div>
<div class="din-mark din-fold-2"></div>
<header class="din-letterhead">{_letterhead(msg.sender)}</header>
<div class="din-window">
<div class="din-return">{escape(return_line(msg.sender))}</div>
<address class="din-recipient">{"<br>".join(map(escape, address_lines(msg)))}</address>
</div>
<dl class="din-info"><dt>{_DATE_LABEL[lang]}</dt><dd>{format_date(msg.date, lang)}</dd></dl>
<main class="din-body">
<h1 class="din-subject">{escape(msg.subject)}</h1>
{msg.html}
{giro}
</main>
</body></html>"""


def return_line(sender: PostalAddress) -> str:
    """The one-line sender address printed above the recipient in the window."""
    return f"{sender.name} · {sender.street} · {sender.postcode} {sender.city}"


def address_lines(msg: LetterMessage) -> list[str]:
    """Recipient lines; the country line (in capitals) only for mail abroad, per DIN 5008."""
    r = msg.recipient
    lines = [r.name, r.street, f"{r.postcode} {r.city}"]
    if r.country != msg.sender.country:
        lines.append(country_name(r.country, msg.language).upper())
    return lines


def country_name(code: str, language: str) -> str:
    """Country name in the letter's language, falling back to the code itself."""
    try:
        territories = Locale.parse(language).territories
    except (UnknownLocaleError, ValueError):
        return code
    return str(territories.get(code, code))


def format_date(day: dt.date, language: str) -> str:
    """German numeric date (DIN 5008 allows 23.11.2025) or '23 November 2025'."""
    if _lang(language) == "de":
        return day.strftime("%d.%m.%Y")
    return babel_date(day, format="long", locale="en_GB")


def format_amount(amount: Decimal, language: str) -> str:
    """'1.234,50 EUR' in German, 'EUR 1,234.50' otherwise."""
    plain = f"{amount:,.2f}"
    if _lang(language) == "de":
        return plain.replace(",", "_").replace(".", ",").replace("_", ".") + " EUR"
    return f"EUR {plain}"


def _giro_html(giro: GiroPayment, lang: str) -> str:
    title, beneficiary, amount, reference, scan = _GIRO_LABELS[lang]
    rows = [
        (beneficiary, giro.beneficiary),
        ("IBAN", _group(compact(giro.iban))),
        ("BIC", compact(giro.bic or "")),
        (amount, format_amount(giro.amount, lang)),
        (reference, giro.reference),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows if v)
    return (
        f'<section class="din-giro"><img src="{girocode_svg_data_uri(giro)}" alt="GiroCode">'
        f"<div><strong>{title}</strong> – {scan}<table>{cells}</table></div></section>"
    )


def _letterhead(sender: PostalAddress) -> str:
    parts = [f"<strong>{escape(sender.name)}</strong>", escape(sender.street)]
    parts.append(escape(f"{sender.postcode} {sender.city}"))
    return "<br>".join(parts)


def _group(iban: str) -> str:
    """IBANs are printed in groups of four so a human can read them back."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _lang(language: str) -> str:
    """Only German and English frames exist; anything else gets the English one."""
    return "de" if language.lower().startswith("de") else "en"


def _page_label_css(language: str) -> str:
    return f"@page {{ @bottom-right {{ content: {_PAGE_LABEL[_lang(language)]}; }} }}"
