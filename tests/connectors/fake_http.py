"""A small threaded HTTP server on 127.0.0.1 that the payment provider fakes build on.

Each fake registers routes; the server records every request, can be told to stall (to provoke
client timeouts) or to answer the next requests with scripted failures (5xx, declines), and
keeps the provider's idempotency store keyed by the Idempotency-Key header.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass
class Reply:
    """What the fake answers: status, a JSON-able body and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, re.Match[str]], Reply]


class FakeServer:
    """Routes by method and path pattern; started with start(), stopped with stop()."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.requests: list[Request] = []
        self.delay = 0.0  # seconds every answer waits, to outlast a client's timeout
        self.scripted: list[Reply] = []  # answered, in order, before any route runs
        self.idempotent: dict[tuple[str, str], tuple[bytes, Reply]] = {}
        self.lock = threading.RLock()
        self.base_url = ""
        self._server: ThreadingHTTPServer | None = None

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer METHOD requests whose path fully matches pattern."""
        self.routes.append((method, re.compile(pattern), handler))

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            if self.scripted:
                return self.scripted.pop(0)
            for method, pattern, handler in self.routes:
                match = pattern.fullmatch(request.path)
                if method == request.method and match:
                    return handler(request, match)
        return Reply(404, {"error": f"no route for {request.method} {request.path}"})

    def start(self) -> FakeServer:
        fake = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                request = Request(
                    self.command,
                    url.path,
                    dict(parse_qsl(url.query, keep_blank_values=True)),
                    dict(self.headers.items()),
                    body,
                )
                if fake.delay:
                    time.sleep(fake.delay)
                reply = fake.dispatch(request)
                payload = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output readable

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        self._server = server
        self.base_url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def once(
        self, request: Request, create: Callable[[], Reply], conflict: Callable[[Reply], Reply]
    ) -> Reply:
        """Run create once per Idempotency-Key; a repeat with the same body gets the first
        answer again, a repeat with another body gets conflict(first answer)."""
        key = request.header("Idempotency-Key")
        if not key:
            return create()
        stored = self.idempotent.get((request.path, key))
        if stored is None:
            reply = create()
            if reply.status < 500:  # providers do not keep server errors for a key
                self.idempotent[(request.path, key)] = (request.body, reply)
            return reply
        body, reply = stored
        if body != request.body:
            return conflict(reply)
        return reply
