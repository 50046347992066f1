"""Sandbox twins: same checks as the real connectors, messages kept in memory."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from connectors.base import (
    EmailConnector,
    EmailMessage,
    LetterConnector,
    LetterMessage,
    PostalAddress,
    SendResult,
    SmsConnector,
    SmsMessage,
    temporary,
)
from connectors.email_sandbox import SandboxEmailConnector
from connectors.letter_sandbox import SandboxLetterConnector
from connectors.sandbox import SandboxStore
from connectors.sms_sandbox import SandboxSmsConnector

EMAIL = EmailMessage("e-1", "erika@example.org", "billing@shop.example", "Erinnerung", "Text")
SMS = SmsMessage("s-1", "0151 2345 6789", "a" * 161)
ADDRESS = PostalAddress("Erika Mustermann", "Heidestraße 17", "51147", "Köln", "DE")
LETTER = LetterMessage(
    "l-1", ADDRESS, ADDRESS, "<p>Hallo</p>", None, dt.date(2025, 1, 2), "Mahnung"
)


def test_sandboxes_satisfy_their_protocols() -> None:
    assert isinstance(SandboxEmailConnector(), EmailConnector)
    assert isinstance(SandboxSmsConnector(), SmsConnector)
    assert isinstance(SandboxLetterConnector(), LetterConnector)


def test_email_sandbox_keeps_the_message() -> None:
    sandbox = SandboxEmailConnector()
    result = sandbox.send(EMAIL)
    assert (result.provider_message_id, sandbox.sent) == ("sandbox-email-e-1", [EMAIL])


def test_email_sandbox_refuses_what_smtp_would() -> None:
    sandbox = SandboxEmailConnector()
    result = sandbox.send(EmailMessage("e-2", "nobody", "billing@shop.example", "S", "T"))
    assert (result.status, sandbox.sent) == ("permanent_failure", [])


def test_resend_with_same_key_is_stored_once() -> None:
    sandbox = SandboxEmailConnector()
    sandbox.send(EMAIL)
    sandbox.send(EMAIL)
    assert len(sandbox.sent) == 1


def test_sms_sandbox_counts_segments_and_cost() -> None:
    result = SandboxSmsConnector(price_per_segment="0.07").send(SMS)
    assert (result.segments, result.cost) == (2, Decimal("0.14"))


def test_decider_plays_out_a_provider_failure() -> None:
    sandbox = SandboxSmsConnector(decide=lambda m: temporary("provider down"))
    result = sandbox.send(SMS)
    assert (result, sandbox.sent) == (SendResult("temporary_failure", reason="provider down"), [])


def test_shared_store_is_what_the_designer_reads() -> None:
    store: SandboxStore[EmailMessage] = SandboxStore("email")
    SandboxEmailConnector(store=store).send(EMAIL)
    assert store.find("e-1") == EMAIL


def test_letter_sandbox_refuses_a_bad_iban() -> None:
    from dataclasses import replace

    from connectors.base import GiroPayment

    giro = GiroPayment("Shop", "DE00123", None, Decimal("5"), "EUR", "R1")
    result = SandboxLetterConnector().send(replace(LETTER, giro=giro))
    assert result.status == "permanent_failure"
    assert "giro.iban" in (result.reason or "")


def test_letter_sandbox_can_keep_the_pdf() -> None:
    sandbox = SandboxLetterConnector(render_pdf=True)
    sandbox.send(LETTER)
    assert sandbox.pdfs["l-1"].startswith(b"%PDF")
