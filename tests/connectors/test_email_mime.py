"""mime_bytes(): the hand-written MIME must read back as the email package would have built it."""

from __future__ import annotations

import email
from email.message import EmailMessage as Mime
from email.policy import default

import pytest

from connectors.base import EmailMessage
from connectors.email_mime import build_mime, mime_bytes

TEXT = (
    "Sehr geehrte Frau Müller,\n\nunsere Rechnung über 89,00 € war am 10. Februar 2026 fällig, "
    "bitte zahlen Sie hier: https://pay.example/p/R-4711-abcdefghijklmnopqrstuvwxyz\n"
    ".a line with a leading dot\ntrailing spaces   \n\tand a tab\n\nMit freundlichen Grüßen"
)


def message(**kw: object) -> EmailMessage:
    values: dict[str, object] = {
        "idempotency_key": "42",
        "to": "Erika Müller <erika@example.org>",
        "from_addr": '"Beispiel GmbH, Forderungen" <forderungen@beispiel.example>',
        "subject": "Zahlungserinnerung für Rechnung R-4711 über 89,00 € – bitte begleichen Sie "
        "den offenen Betrag bis zum 20. März",
        "text": TEXT,
        "html": "<p>" + TEXT.replace("\n", "<br>") + "</p>",
        "reply_to": "buchhaltung@beispiel.example",
        "list_unsubscribe": "https://pay.example/p/R-4711/contact",
        "headers": {"X-Mahnwerk-Case": "R-4711"},
    }
    values.update(kw)
    return EmailMessage(**values)  # type: ignore[arg-type]


def parsed(data: bytes) -> Mime:
    return email.message_from_bytes(data, _class=Mime, policy=default)


def lf(text: str) -> str:
    """SMTP data has CRLF line ends; the parser keeps them in a 7bit body."""
    return text.replace("\r\n", "\n")


def test_every_field_reads_back_unchanged() -> None:
    built = mime_bytes(message())
    mime = parsed(built.data)

    assert built.message_id == mime["Message-ID"] == "<mahnwerk.42@beispiel.example>"
    assert mime["From"].addresses[0].display_name == "Beispiel GmbH, Forderungen"
    assert mime["From"].addresses[0].addr_spec == "forderungen@beispiel.example"
    assert mime["To"].addresses[0].display_name == "Erika Müller"
    assert str(mime["Subject"]) == message().subject
    assert mime["Reply-To"] == "buchhaltung@beispiel.example"
    assert mime["List-Unsubscribe"] == "<https://pay.example/p/R-4711/contact>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime["X-Mahnwerk-Case"] == "R-4711"
    assert mime["MIME-Version"] == "1.0" and mime["Date"].datetime is not None
    assert mime.get_content_type() == "multipart/alternative"
    text, html = mime.iter_parts()
    assert lf(text.get_content()) == TEXT + "\n"
    assert lf(html.get_content()) == message().html + "\n"
    assert not mime.defects and not text.defects and not html.defects


def test_the_bytes_are_7_bit_with_crlf_lines_of_at_most_78_characters() -> None:
    data = mime_bytes(message()).data

    assert data.isascii()
    lines = data.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(len(line) for line in lines) <= 78


def test_an_ascii_text_only_message_is_a_single_7bit_part() -> None:
    mime = parsed(mime_bytes(message(text="Please pay.", html=None, subject="Reminder")).data)

    assert (mime.get_content_type(), mime["Content-Transfer-Encoding"]) == ("text/plain", "7bit")
    assert lf(mime.get_content()) == "Please pay.\n"


def test_plain_headers_match_what_the_email_package_writes() -> None:
    msg = message(to="erika@example.org", from_addr="a@b.example", subject="Reminder R-1")
    head = mime_bytes(msg).data.split(b"\r\n\r\n", 1)[0].decode()

    assert "From: a@b.example\r\nTo: erika@example.org\r\nSubject: Reminder R-1\r\n" in head


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Hi\r\nBcc: x@y.example"},
        {"headers": {"X-Note": "a\nb"}},
        {"headers": {"Subject": "other"}},
        {"headers": {"content-type": "text/html"}},
        {"headers": {"Bad Name": "x"}},
    ],
)
def test_injection_and_reserved_headers_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        mime_bytes(message(**change))


def test_build_mime_returns_the_parsed_message() -> None:
    mime = build_mime(message(), "mail.example")

    assert mime["Message-ID"] == "<mahnwerk.42@mail.example>"
    assert [p.get_content_type() for p in mime.iter_parts()] == ["text/plain", "text/html"]
