"""Real local servers for the connector tests: aiosmtpd SMTP, an HTTP SMS provider, localstripe
and the payment provider fakes (fake_stripe.py, fake_mollie.py, fake_gocardless.py)."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "mahnwerk", "s3cret"


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RecordingHandler:
    """Accepts mail, but refuses recipients whose local part asks for it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


def _check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    # handled=False lets aiosmtpd answer 535 itself; handled=True would leave the client hanging.
    return AuthResult(success=ok, handled=ok)


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    port: int
    handler: RecordingHandler


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """A throwaway CA; the connector trusts it through its ca_file setting."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture(scope="session")
def server_tls(tls_ca: tuple[trustme.CA, Path]) -> ssl.SSLContext:
    """The SMTP server's context with a certificate for 127.0.0.1 and localhost."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca[0].issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def smtp_server(server_tls: ssl.SSLContext) -> Iterator[Callable[..., SmtpServer]]:
    """Start aiosmtpd on 127.0.0.1 in mode plain, starttls or tls, optionally with auth."""
    controllers: list[Controller] = []

    def start(mode: str = "plain", auth: bool = False) -> SmtpServer:
        handler = RecordingHandler()
        kwargs: dict[str, Any] = {}
        if mode == "starttls":
            kwargs.update(tls_context=server_tls, require_starttls=True)
        if mode == "tls":
            kwargs.update(ssl_context=server_tls, server_hostname="localhost")
        if auth:
            kwargs.update(authenticator=_check_login, auth_required=True)
            kwargs.update(auth_require_tls=mode != "plain")
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(port=port, handler=handler)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 where nothing listens, for connection-refused tests."""
    return free_port()


@pytest.fixture
def smtp_login() -> tuple[str, str]:
    """The username and password the auth-enabled SMTP server accepts."""
    return SMTP_USER, SMTP_PASSWORD


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A socket that accepts connections and never says a word, to provoke timeouts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(5)
        yield int(sock.getsockname()[1])


@dataclass
class Recorded:
    """One request the fake provider received."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeProvider:
    """An HTTP server on 127.0.0.1 that answers with whatever `reply` returns."""

    base_url: str
    requests: list[Recorded] = field(default_factory=list)
    reply: Callable[[Recorded], tuple[int, dict[str, Any]]] = lambda r: (201, {})
    delay: float = 0.0


@pytest.fixture
def sms_provider() -> Iterator[FakeProvider]:
    """Start the fake SMS provider in a thread; tests set `reply` to script its answers."""
    provider = FakeProvider(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorded = Recorded(self.path, dict(self.headers.items()), self.rfile.read(length))
            provider.requests.append(recorded)
            time.sleep(provider.delay)
            status, payload = provider.reply(recorded)
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest output readable

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    provider.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """localstripe (PyPI) as a subprocess on a free port of 127.0.0.1."""
    port = free_port()
    script = Path(__file__).with_name("localstripe_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"localstripe did not start: {err[-2000:]}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _started(fake):  # type: ignore[no-untyped-def]
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe() -> Iterator[Any]:
    """A local Stripe speaking its wire format (declines, disputes, sessions, idempotency)."""
    from tests.connectors.fake_stripe import FakeStripe

    yield from _started(FakeStripe())


@pytest.fixture
def fake_mollie() -> Iterator[Any]:
    """A local Mollie v2 API (payments, refunds, chargebacks, idempotency)."""
    from tests.connectors.fake_mollie import FakeMollie

    yield from _started(FakeMollie())


@pytest.fixture
def fake_gocardless() -> Iterator[Any]:
    """A local GoCardless API (billing requests and flows, payments, instalment schedules)."""
    from tests.connectors.fake_gocardless import FakeGoCardless

    yield from _started(FakeGoCardless())
