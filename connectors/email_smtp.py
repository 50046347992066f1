"""Email over SMTP: plain, STARTTLS or implicit TLS, with optional login."""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from connectors.base import EmailMessage, SendResult, permanent, temporary
from connectors.email_mime import MimeBytes, mime_bytes
from connectors.settings import from_settings
from connectors.validation import check_email_message, email_addr_spec

Security = Literal["plain", "starttls", "tls"]
_DEFAULT_PORTS: dict[str, int] = {"plain": 25, "starttls": 587, "tls": 465}


class _MarksData:
    """Remembers whether DATA was started: after that a failure may mean it was delivered."""

    data_started = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)  # type: ignore[misc]


class _Smtp(_MarksData, smtplib.SMTP):
    pass


class _SmtpSsl(_MarksData, smtplib.SMTP_SSL):
    pass


@dataclass(eq=False)
class _Session:
    """One open, secured and logged-in SMTP session, used by one thread at a time."""

    smtp: _Smtp | _SmtpSsl
    used_at: float
    messages: int = 0


class SmtpEmailConnector:
    """Sends over a persistent SMTP session per thread; errors become SendResults, never raise.

    Opening a session (TCP, EHLO, STARTTLS, AUTH) costs several round trips, more than the
    message itself, so each sending thread keeps its session for `max_messages_per_session`
    messages or until it has been idle `session_idle_seconds`. A session the server closed in
    the meantime is noticed before DATA and replaced at once; nothing was sent on it, so that
    is safe. `reuse_session=False` opens one session per message.
    """

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
        reuse_session: bool = True,
        max_messages_per_session: int = 100,
        session_idle_seconds: float = 30.0,
        bcc: list[str] | tuple[str, ...] = (),
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
        self.reuse_session = reuse_session
        self.max_messages_per_session = max(1, max_messages_per_session)
        self.session_idle_seconds = session_idle_seconds
        self._tls = _tls_context(ca_file, verify_tls)
        self._local = threading.local()
        self._sessions: set[_Session] = set()
        self._lock = threading.Lock()
        # The profile's blind copies (e.g. an archive mailbox), added to every message's own.
        self.bcc = tuple(email_addr_spec(f"bcc.{i}", b) for i, b in enumerate(bcc))

    def send(self, msg: EmailMessage) -> SendResult:
        """Deliver one message to the SMTP server and map its answer to a SendResult."""
        try:
            check_email_message(msg)
            mime = mime_bytes(msg, self.message_id_domain)
        except ValueError as exc:  # InvalidAddressError is a ValueError too
            return permanent(f"Email not sent: {exc}")
        sender = email_addr_spec("from_addr", msg.from_addr)
        copies = (email_addr_spec(f"bcc.{i}", b) for i, b in enumerate(msg.bcc))
        # Envelope recipients: the debtor, then blind copies once each (never in a header).
        recipients = list(dict.fromkeys((email_addr_spec("to", msg.to), *copies, *self.bcc)))
        try:
            self._deliver(mime, sender, recipients)
        except Exception as exc:  # every failure must become a SendResult, never a crash
            return _result_for(exc, f"{self.host}:{self.port}", self.timeout)
        return SendResult(status="accepted", provider_message_id=mime.message_id)

    def close(self) -> None:
        """Say QUIT on every open session (the dispatcher calls this when it stops)."""
        with self._lock:
            sessions, self._sessions = self._sessions, set()
        for session in sessions:
            _close_quietly(session.smtp)
        self._local = threading.local()

    def _deliver(self, mime: MimeBytes, sender: str, recipient: list[str]) -> None:
        """Hand the message over on this thread's session, replacing a stale one once."""
        session = self._current()
        if session is not None:
            try:
                self._transfer(session, mime, sender, recipient)
                return
            except Exception as exc:
                if not _nothing_sent_on_stale_session(exc, session.smtp):
                    self._after_failure(session, exc)
                    raise
                self._drop(session)
        session = self._start_session()
        try:
            self._transfer(session, mime, sender, recipient)
        except Exception as exc:
            self._after_failure(session, exc)
            raise

    def _transfer(
        self, session: _Session, mime: MimeBytes, sender: str, recipient: list[str]
    ) -> None:
        session.smtp.data_started = False
        # The bytes are final (7-bit, CRLF): sendmail() sends them without re-parsing headers.
        session.smtp.sendmail(sender, recipient, mime.data)
        session.messages += 1
        session.used_at = time.monotonic()
        if not self.reuse_session or session.messages >= self.max_messages_per_session:
            self._drop(session)

    def _current(self) -> _Session | None:
        """This thread's session, unless it is used up or has been idle too long."""
        session: _Session | None = getattr(self._local, "session", None)
        if session is None:
            return None
        if time.monotonic() - session.used_at > self.session_idle_seconds:
            self._drop(session)  # servers close idle sessions; do not bet a message on it
            return None
        return session

    def _start_session(self) -> _Session:
        """Open a session, say hello, secure it and log in."""
        smtp = self._open()
        try:
            if self.security == "starttls":
                smtp.starttls(context=self._tls)
            if self.username:
                smtp.login(self.username, self.password or "")
        except Exception:
            _close_quietly(smtp)
            raise
        session = _Session(smtp, time.monotonic())
        if self.reuse_session:
            self._local.session = session
            with self._lock:
                self._sessions.add(session)
        return session

    def _after_failure(self, session: _Session, exc: Exception) -> None:
        """A refusal (4xx/5xx reply) leaves the session usable; anything else ends it."""
        if not isinstance(exc, smtplib.SMTPResponseException) or not self.reuse_session:
            self._drop(session)

    def _drop(self, session: _Session) -> None:
        if getattr(self._local, "session", None) is session:
            self._local.session = None
        with self._lock:
            self._sessions.discard(session)
        _close_quietly(session.smtp)

    def _open(self) -> _Smtp | _SmtpSsl:
        """Connect with implicit TLS or in the clear (STARTTLS upgrades later)."""
        # smtplib asks DNS for our FQDN on every connection unless told; ask once.
        hostname = self.local_hostname or _local_fqdn()
        if self.security == "tls":
            return _SmtpSsl(
                self.host,
                self.port,
                local_hostname=hostname,
                timeout=self.timeout,
                context=self._tls,
            )
        return _Smtp(self.host, self.port, local_hostname=hostname, timeout=self.timeout)


def _nothing_sent_on_stale_session(exc: Exception, smtp: _MarksData) -> bool:
    """True when a reused session turned out closed before DATA: safe to send on a new one."""
    if smtp.data_started:
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "service closing": the server ended the session
    return isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)


@functools.cache
def _local_fqdn() -> str:
    return socket.getfqdn()


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
