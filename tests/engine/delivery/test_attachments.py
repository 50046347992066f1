"""A send step's `attach`: the case's stored invoice PDF goes with the email, over real SMTP."""

from __future__ import annotations

import email
from typing import Any

from engine import NODE_TYPES, Database, Runtime, explain_case, store_document
from engine.authoring.validation import validate_document
from engine.storage.models import CaseRow, VersionRow
from tests.engine.delivery import test_dispatcher as base
from tests.engine.delivery.test_dispatcher import MONDAY_MORNING, audits, messages, queue
from tests.factories import make_case

# The real SMTP server (aiosmtpd) and dispatcher fixtures of the dispatcher tests.
mailbox, twilio, make_dispatcher = base.mailbox, base.twilio, base.make_dispatcher
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"


def store_invoice(db: Database, case_id: int, data: bytes = PDF) -> None:
    with db.transaction() as session:
        case = session.get(CaseRow, case_id)
        assert case is not None
        store_document(session, case, "invoice", data, MONDAY_MORNING, 5 * 1024 * 1024)


def pdf_parts(content: bytes) -> list[tuple[str | None, bytes]]:
    """(file name, decoded bytes) of each application/pdf part of a received message."""
    parsed = email.message_from_bytes(content)
    return [
        (part.get_filename(), part.get_payload(decode=True))
        for part in parsed.walk()
        if part.get_content_type() == "application/pdf"
    ]


def test_the_stored_invoice_reaches_the_mailbox_as_a_pdf_part(db, mailbox, make_dispatcher) -> None:
    case_id = queue(db, MONDAY_MORNING, base.send_doc(attach=["invoice"]), external_id="RE-42")
    store_invoice(db, case_id)

    report = make_dispatcher().dispatch(MONDAY_MORNING)

    assert report.sent == 1
    ((_sender, recipients, content),) = mailbox[0].messages
    assert recipients == ["erika@example.org"]
    assert pdf_parts(content) == [("invoice-RE-42.pdf", PDF)]
    assert messages(db)[0].payload == {"attach": ["invoice"]}
    (audit,) = audits(db, "attachment")
    assert (audit["document"], audit["bytes"]) == ("invoice", len(PDF))


def test_without_a_stored_invoice_the_email_goes_alone_and_the_audit_says_so(
    db, mailbox, make_dispatcher
) -> None:
    queue(db, MONDAY_MORNING, base.send_doc(attach=["invoice"]))

    assert make_dispatcher().dispatch(MONDAY_MORNING).sent == 1

    ((_sender, _recipients, content),) = mailbox[0].messages
    assert pdf_parts(content) == []
    assert [a["document"] for a in audits(db, "attachment_missing")] == ["invoice"]
    assert messages(db)[0].status == "sent"


def test_a_step_without_attach_sends_no_file_even_when_one_is_stored(
    db, mailbox, make_dispatcher
) -> None:
    store_invoice(db, queue(db, MONDAY_MORNING, base.send_doc()))
    make_dispatcher().dispatch(MONDAY_MORNING)
    ((_sender, _recipients, content),) = mailbox[0].messages
    assert pdf_parts(content) == []


def problems_of(**send: Any) -> list[tuple[str | None, str | None]]:
    _journey, problems = validate_document(base.send_doc(**send))
    return [(p.node, p.field) for p in problems]


def test_bad_attachments_name_node_and_field() -> None:
    assert problems_of(attach=["invoice"]) == []
    assert problems_of(attach=["contract"]) == [("remind", "params.attach.0")]
    assert problems_of(attach="invoice") == [("remind", "params.attach")]
    assert problems_of(channel="letter", attach=["invoice"]) == [("remind", "params.attach")]
    assert problems_of(attach=["invoice", "invoice"]) == [("remind", "params.attach")]


def test_the_rule_sentence_names_the_attachment_in_both_languages() -> None:
    journey, problems = validate_document(base.send_doc(attach=["invoice"]))
    assert journey is not None and problems == []
    node = next(n for n in journey.nodes if n.id == "remind")
    (spec,) = NODE_TYPES["send"].compile(node, journey)
    assert spec.words is not None
    assert "with the invoice PDF attached" in spec.words.text("en")
    assert "mit der Rechnung als PDF im Anhang" in spec.words.text("de")


def test_the_case_explanation_says_what_was_attached_and_what_was_missing(
    db, mailbox, make_dispatcher
) -> None:
    with_file = queue(db, MONDAY_MORNING, base.send_doc(attach=["invoice"]), external_id="A")
    store_invoice(db, with_file)
    with db.transaction() as session:
        version = session.get(CaseRow, with_file).version_id
        without = make_case(session, session.get(VersionRow, version), MONDAY_MORNING).id
    Runtime(db).tick(MONDAY_MORNING)
    make_dispatcher().dispatch(MONDAY_MORNING)

    def summaries(case_id: int, lang: str) -> list[str]:
        with db.transaction() as session:
            return [s.summary for s in explain_case(session, case_id, lang, 50, None)]

    assert f"The host stored the case's invoice PDF ({len(PDF)} bytes)." in summaries(
        with_file, "en"
    )
    assert f"Die E-Mail enthielt die Rechnung als PDF ({len(PDF)} Bytes)." in summaries(
        with_file, "de"
    )
    assert "The email went without the invoice PDF: the host stored none." in summaries(
        without, "en"
    )
