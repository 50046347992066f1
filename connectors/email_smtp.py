"""Email over SMTP: plain, STARTTLS or implicit TLS, with optional login."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from connectors.base import EmailMessage, SendResult, permanent, temporary
from connectors.email_mime import build_mime
from connectors.settings import from_settings
from connectors.validation import check_email_message, email_addr_spec

Security = Literal["plain", "starttls", "tls"]
_DEFAULT_PORTS: dict[str, int] = {"plain": 25, "starttls": 587, "tls": 465}


class SmtpEmailConnector:
    """Sends each message in its own SMTP session; errors become SendResults, never raise."""

    channel: ClassVar[Literal["email"]] = "email"
    provider: ClassVar[str] = "smtp"

    def __init__(
        self,
        host: str,
        port: int | None = None,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        ca_file: str | None = None,
        verify_tls: bool = True,
        local_hostname: str | None = None,
        message_id_domain: str | None = None,
    ) -> None:
        if security not in _DEFAULT_PORTS:
            raise ValueError(f"security must be one of {', '.join(_DEFAULT_PORTS)}")
        self.host = host
        self.port = port or _DEFAULT_PORTS[security]
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.message_id_domain = message_id_domain
        self._tls = _tls_context(ca_file, verify_tls)

    def send(self, msg: EmailMessage) -> SendResult:
        """Deliver one message to the SMTP server and map its answer to a SendResult."""
        try:
            check_email_message(msg)
            mime = build_mime(msg, self.message_id_domain)
        except ValueError as exc:  # InvalidAddressError is a ValueError too
            return permanent(f"Email not sent: {exc}")
        sender = email_addr_spec("from_addr", msg.from_addr)
        recipient = email_addr_spec("to", msg.to)
        try:
            self._deliver(mime, sender, recipient)
        except Exception as exc:  # every failure must become a SendResult, never a crash
            return _result_for(exc, f"{self.host}:{self.port}", self.timeout)
        return SendResult(status="accepted", provider_message_id=str(mime["Message-ID"]))

    def _deliver(self, mime: Any, sender: str, recipient: str) -> None:
        """Open a session, say hello, secure it, log in and hand over the message."""
        smtp = self._open()
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._tls)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(mime, from_addr=sender, to_addrs=[recipient])
        finally:
            _close_quietly(smtp)

    def _open(self) -> smtplib.SMTP:
        """Connect with implicit TLS or in the clear (STARTTLS upgrades later)."""
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._tls,
            )
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )


def from_profile(settings: Mapping[str, Any]) -> SmtpEmailConnector:
    """Registry factory: build the connector from a profile's settings."""
    return from_settings(SmtpEmailConnector, settings)


def _tls_context(ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """Verify certificates by default; verify_tls=False exists only for lab relays."""
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """Say QUIT but ignore errors: once DATA was accepted, a failing QUIT must not mean resend."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _result_for(exc: Exception, server: str, timeout: float) -> SendResult:
    """Translate an smtplib/socket exception into a SendResult with a readable reason."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
        return _by_code(code, f"SMTP server refused recipient: {code} {_text(text)}")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return _by_code(exc.smtp_code, f"SMTP server refused sender: {_reply(exc)}")
    if isinstance(exc, smtplib.SMTPDataError):
        return _by_code(exc.smtp_code, f"SMTP server refused the message: {_reply(exc)}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # A wrong password is the operator's to fix; failing the debtor's message for good
        # would lose it, so keep it retryable.
        return temporary(f"SMTP login failed, check username and password: {_reply(exc)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return temporary(f"SMTP server {server} does not support what the profile asks: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"SMTP server answered: {_reply(exc)}")
    # smtplib re-raises a read timeout as SMTPServerDisconnected; the timeout is the story.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return temporary(f"SMTP server {server} did not answer within {timeout:g} seconds")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return temporary(f"SMTP server {server} closed the connection: {exc}")
    if isinstance(exc, ssl.SSLError):
        return temporary(f"TLS with SMTP server {server} failed: {exc}")
    if isinstance(exc, OSError):
        return temporary(f"Could not connect to SMTP server {server}: {exc}")
    return temporary(f"Unexpected error talking to SMTP server {server}: {exc!r}")


def _by_code(code: int, reason: str) -> SendResult:
    """5xx is final, 4xx (and anything odd) is worth a retry."""
    return permanent(reason) if 500 <= code < 600 else temporary(reason)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error)}"


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
