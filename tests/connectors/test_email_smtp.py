"""SmtpEmailConnector against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import email
import socket
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import pytest
import trustme

from connectors.base import EmailConnector, EmailMessage
from connectors.email_mime import message_id_for
from connectors.email_smtp import SmtpEmailConnector, from_profile


def reminder(to: str = "erika@example.org", key: str = "outbox-42") -> EmailMessage:
    return EmailMessage(
        idempotency_key=key,
        to=to,
        from_addr="Muster Shop <billing@shop.example>",
        subject="Zahlungserinnerung Rechnung 4711",
        text="Guten Tag, bitte begleichen Sie 89,00 EUR.",
        html="<p>Guten Tag, bitte begleichen Sie <b>89,00 EUR</b>.</p>",
        list_unsubscribe="https://pay.example/u/abc",
    )


def received(server) -> Message:
    (_, _, content) = server.handler.messages[-1]
    return email.message_from_bytes(content, policy=default_policy)


def connector(port: int, ca: Path | None = None, **kw: object) -> SmtpEmailConnector:
    return SmtpEmailConnector(
        host="127.0.0.1", port=port, ca_file=str(ca) if ca else None, timeout=5, **kw
    )


def test_satisfies_the_email_protocol() -> None:
    assert isinstance(connector(25, security="plain"), EmailConnector)


def test_plain_delivery_is_accepted(smtp_server) -> None:
    server = smtp_server("plain")
    result = connector(server.port, security="plain").send(reminder())
    assert result.status == "accepted"


def test_plain_delivery_reaches_the_envelope_recipient(smtp_server) -> None:
    server = smtp_server("plain")
    connector(server.port, security="plain").send(reminder())
    assert server.handler.messages[0][:2] == ("billing@shop.example", ["erika@example.org"])


def test_message_is_multipart_alternative_with_text_and_html(smtp_server) -> None:
    server = smtp_server("plain")
    connector(server.port, security="plain").send(reminder())
    parts = [p.get_content_type() for p in received(server).iter_parts()]
    assert (received(server).get_content_type(), parts) == (
        "multipart/alternative",
        ["text/plain", "text/html"],
    )


def test_message_id_is_derived_from_the_idempotency_key(smtp_server) -> None:
    server = smtp_server("plain")
    result = connector(server.port, security="plain").send(reminder(key="outbox-42"))
    expected = "<mahnwerk.outbox-42@shop.example>"
    assert (received(server)["Message-ID"], result.provider_message_id) == (expected, expected)


def test_resend_carries_the_same_message_id(smtp_server) -> None:
    server = smtp_server("plain")
    smtp = connector(server.port, security="plain")
    smtp.send(reminder())
    smtp.send(reminder())
    ids = {email.message_from_bytes(m[2])["Message-ID"] for m in server.handler.messages}
    assert len(ids) == 1


def test_unsafe_key_is_hashed_into_the_message_id() -> None:
    assert message_id_for("a b<c>", "x.example").startswith("<mahnwerk.") is True
    assert " " not in message_id_for("a b<c>", "x.example")


def test_one_click_unsubscribe_headers(smtp_server) -> None:
    server = smtp_server("plain")
    connector(server.port, security="plain").send(reminder())
    msg = received(server)
    assert (msg["List-Unsubscribe"], msg["List-Unsubscribe-Post"]) == (
        "<https://pay.example/u/abc>",
        "List-Unsubscribe=One-Click",
    )


def test_starttls_with_login(smtp_server, smtp_login, tls_ca: tuple[trustme.CA, Path]) -> None:
    server = smtp_server("starttls", auth=True)
    user, password = smtp_login
    smtp = connector(server.port, tls_ca[1], security="starttls", username=user, password=password)
    assert smtp.send(reminder()).status == "accepted"
    assert len(server.handler.messages) == 1


def test_starttls_refuses_an_untrusted_certificate(smtp_server) -> None:
    server = smtp_server("starttls")
    result = connector(server.port, security="starttls").send(reminder())
    assert result.status == "temporary_failure"
    assert "TLS" in (result.reason or "")


def test_implicit_tls(smtp_server, tls_ca: tuple[trustme.CA, Path]) -> None:
    server = smtp_server("tls")
    result = connector(server.port, tls_ca[1], security="tls").send(reminder())
    assert result.status == "accepted"
    assert len(server.handler.messages) == 1


def test_wrong_password_is_retryable_and_says_so(smtp_server, smtp_login, tls_ca) -> None:
    server = smtp_server("starttls", auth=True)
    smtp = connector(
        server.port, tls_ca[1], security="starttls", username=smtp_login[0], password="x"
    )
    result = smtp.send(reminder())
    assert (result.status, server.handler.messages) == ("temporary_failure", [])
    assert "SMTP login failed" in (result.reason or "")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_server_requiring_auth_refuses_anonymous_mail(smtp_server) -> None:
    server = smtp_server("plain", auth=True)
    result = connector(server.port, security="plain").send(reminder())
    assert result.status == "permanent_failure"  # 530 authentication required is a 5xx


def test_5xx_recipient_rejection_is_permanent(smtp_server) -> None:
    server = smtp_server("plain")
    result = connector(server.port, security="plain").send(reminder(to="gone@example.org"))
    assert result.status == "permanent_failure"
    assert result.reason == "SMTP server refused recipient: 550 5.1.1 mailbox unavailable"


def test_4xx_recipient_rejection_is_temporary(smtp_server) -> None:
    server = smtp_server("plain")
    result = connector(server.port, security="plain").send(reminder(to="busy@example.org"))
    assert result.status == "temporary_failure"
    assert "451" in (result.reason or "")


def test_connection_refused_is_temporary(unused_port: int) -> None:
    result = connector(unused_port, security="plain").send(reminder())
    assert result.status == "temporary_failure"
    assert "Could not connect" in (result.reason or "")


def test_silent_server_times_out_as_temporary(silent_server: int) -> None:
    smtp = SmtpEmailConnector(host="127.0.0.1", port=silent_server, security="plain", timeout=0.3)
    result = smtp.send(reminder())
    assert result.status == "temporary_failure"
    assert "did not answer within 0.3 seconds" in (result.reason or "")


def test_invalid_recipient_is_permanent_and_names_the_field(smtp_server) -> None:
    server = smtp_server("plain")
    result = connector(server.port, security="plain").send(reminder(to="not-an-address"))
    assert result.status == "permanent_failure"
    assert "Invalid to 'not-an-address'" in (result.reason or "")


def test_header_injection_in_subject_is_refused(smtp_server) -> None:
    server = smtp_server("plain")
    msg = EmailMessage("k", "a@b.example", "c@d.example", "Hi\r\nBcc: x@y.example", "text")
    result = connector(server.port, security="plain").send(msg)
    assert (result.status, server.handler.messages) == ("permanent_failure", [])


def test_profile_settings_build_the_connector() -> None:
    smtp = from_profile({"host": "mail.example", "security": "tls"})
    assert (smtp.host, smtp.port) == ("mail.example", 465)


# -- persistent sessions ---------------------------------------------------------------------


class PeerRecorder:
    """Accepts mail and notes the client's address of the session each message came on."""

    def __init__(self, refuse_first_mail_with_421: bool = False) -> None:
        self.peers: list[object] = []
        self.refuse_next_mail = refuse_first_mail_with_421

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_next_mail and session.peer in self.peers:
            self.refuse_next_mail = False
            return "421 4.4.2 idle too long, closing"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"


@pytest.fixture
def peer_server():
    from aiosmtpd.controller import Controller

    from tests.connectors.conftest import free_port

    controllers = []

    def start(handler: PeerRecorder) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port

    yield start
    for controller in controllers:
        controller.stop()


def test_one_session_carries_many_messages(peer_server) -> None:
    handler = PeerRecorder()
    smtp = connector(peer_server(handler), security="plain")

    results = [smtp.send(reminder(key=f"k{i}")) for i in range(5)]
    smtp.close()

    assert {r.status for r in results} == {"accepted"}
    assert len(handler.peers) == 5 and len(set(handler.peers)) == 1


def test_a_session_is_renewed_after_max_messages(peer_server) -> None:
    handler = PeerRecorder()
    smtp = connector(peer_server(handler), security="plain", max_messages_per_session=2)

    for i in range(5):
        smtp.send(reminder(key=f"k{i}"))

    assert len(set(handler.peers)) == 3


def test_reuse_can_be_switched_off(peer_server) -> None:
    handler = PeerRecorder()
    smtp = connector(peer_server(handler), security="plain", reuse_session=False)

    for i in range(3):
        smtp.send(reminder(key=f"k{i}"))

    assert len(set(handler.peers)) == 3


def test_a_session_that_died_is_replaced_and_the_message_goes_once(peer_server) -> None:
    handler = PeerRecorder()
    smtp = connector(peer_server(handler), security="plain")
    smtp.send(reminder(key="first"))
    # The connection is gone, as after a server timeout.
    smtp._local.session.smtp.sock.shutdown(socket.SHUT_RDWR)

    result = smtp.send(reminder(key="second"))

    assert result.status == "accepted"
    assert len(handler.peers) == 2 and len(set(handler.peers)) == 2


def test_a_421_before_data_on_a_reused_session_is_retried_on_a_new_one(peer_server) -> None:
    handler = PeerRecorder(refuse_first_mail_with_421=True)
    smtp = connector(peer_server(handler), security="plain")
    smtp.send(reminder(key="first"))

    result = smtp.send(reminder(key="second"))

    assert result.status == "accepted"
    assert len(handler.peers) == 2 and handler.refuse_next_mail is False


def test_a_refused_recipient_keeps_the_session(smtp_server) -> None:
    server = smtp_server("plain")
    smtp = connector(server.port, security="plain")

    refused = smtp.send(reminder(to="gone@example.org"))
    accepted = smtp.send(reminder())

    assert (refused.status, accepted.status) == ("permanent_failure", "accepted")
    assert len(smtp._sessions) == 1


def test_an_idle_session_is_not_trusted(peer_server) -> None:
    handler = PeerRecorder()
    smtp = connector(peer_server(handler), security="plain", session_idle_seconds=0)

    smtp.send(reminder(key="a"))
    smtp.send(reminder(key="b"))

    assert len(set(handler.peers)) == 2


def test_blind_copies_are_envelope_recipients_and_never_headers(smtp_server) -> None:
    from dataclasses import replace

    server = smtp_server("plain")
    sender = connector(server.port, security="plain", bcc=["archiv@shop.example"])

    result = sender.send(
        replace(reminder(), bcc=("Team <team@shop.example>", "archiv@shop.example"))
    )

    assert result.status == "accepted"
    assert server.handler.messages[0][:2] == (
        "billing@shop.example",
        ["erika@example.org", "team@shop.example", "archiv@shop.example"],
    )
    content = server.handler.messages[0][2]
    assert b"Bcc" not in content and b"team@shop.example" not in content
    assert b"archiv@shop.example" not in content


def test_bad_or_too_many_blind_copies_are_refused_naming_the_field(smtp_server) -> None:
    from dataclasses import replace

    server = smtp_server("plain")
    sender = connector(server.port, security="plain")

    bad = sender.send(replace(reminder(), bcc=("not an address",)))
    many = sender.send(replace(reminder(), bcc=tuple(f"a{i}@shop.example" for i in range(11))))

    assert bad.status == "permanent_failure" and "bcc.0" in (bad.reason or "")
    assert many.status == "permanent_failure" and "bcc" in (many.reason or "")
    assert server.handler.messages == []
    with pytest.raises(ValueError, match=r"bcc\.0"):
        connector(server.port, security="plain", bcc=["nope"])


PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n" + bytes(range(256)) * 40


def test_a_pdf_attachment_goes_as_a_mime_part_beside_text_and_html(smtp_server) -> None:
    from dataclasses import replace

    from connectors.base import Attachment

    server = smtp_server("plain")
    invoice = Attachment("Rechnung 4711.pdf", "application/pdf", PDF)

    result = connector(server.port, security="plain").send(
        replace(reminder(), attachments=(invoice,))
    )

    assert result.status == "accepted"
    message = received(server)
    assert message.get_content_type() == "multipart/mixed"
    body, attached = list(message.iter_parts())
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "Rechnung 4711.pdf"
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_content() == PDF


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        (("x.pdf", "application/pdf", b"<html>not a pdf</html>"), "attachments.0.data"),
        (("x.exe", "application/x-msdownload", PDF), "attachments.0.content_type"),
        (("../etc/passwd", "application/pdf", PDF), "attachments.0.filename"),
        (
            ("big.pdf", "application/pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)),
            "attachments.0.data",
        ),
    ],
)
def test_unusable_attachments_are_refused_naming_the_field(smtp_server, attachment, field) -> None:
    from dataclasses import replace

    from connectors.base import Attachment

    server = smtp_server("plain")

    result = connector(server.port, security="plain").send(
        replace(reminder(), attachments=(Attachment(*attachment),))
    )

    assert result.status == "permanent_failure" and field in (result.reason or "")
    assert server.handler.messages == []
