"""HTTP POST for the connectors: persistent connections per thread, failures reported, not raised.

`HttpClient` keeps one keep-alive connection per sending thread and origin (scheme, host, port),
so a busy dispatcher pays TCP (and TLS) setup once per thread instead of once per message. A
connection the server has closed meanwhile (idle timeout, restart) is replaced and the request
sent again once, but only when the reused connection fails before any answer arrived; both SMS
providers carry an idempotency key, so even a request the server did see is not doubled. When the
environment names a proxy for the URL (`https_proxy` ...), the request goes through urllib as
before, one connection per request.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from connectors.base import SendResult, permanent, temporary


@dataclass(frozen=True)
class HttpAnswer:
    """A provider's answer: status code and raw body."""

    status: int
    body: bytes


class TransportError(Exception):
    """No HTTP answer at all: refused, reset, timed out, DNS."""


# A reused connection that fails with one of these before an answer was read had been closed by
# the server while idle: nothing was processed on it that the idempotency key would not catch.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(eq=False)
class _Conn:
    http: http.client.HTTPConnection
    used_at: float


class HttpClient:
    """POSTs over one persistent connection per thread and origin; safe to share across threads.

    `idle_seconds`: a connection idle longer than this is closed and a new one opened, rather
    than betting a message on a socket the server may have dropped. `close()` closes all.
    """

    def __init__(self, idle_seconds: float = 30.0, tls: ssl.SSLContext | None = None) -> None:
        self.idle_seconds = idle_seconds
        self._tls = tls
        self._local = threading.local()
        self._all: set[_Conn] = set()
        self._lock = threading.Lock()
        self._proxied: dict[tuple[str, str], bool] = {}

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
        """POST body and return the answer whatever its status; raise TransportError if none."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"not an http(s) URL: {url}")
        if self._uses_proxy(parts.scheme, parts.hostname):
            return post_once(url, body, headers, timeout)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        origin = (parts.scheme, parts.netloc)
        try:
            conn = self._connection(origin, parts, timeout)
            reused = conn.http.sock is not None
            try:
                return self._exchange(conn, target, body, headers)
            except _STALE:
                self._drop(origin, conn)
                if not reused:
                    raise
            conn = self._connection(origin, parts, timeout)
            return self._exchange(conn, target, body, headers)
        except TimeoutError as exc:
            self._forget(origin)
            raise TransportError(f"no answer within {timeout:g} seconds") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._forget(origin)
            raise TransportError(_describe(exc)) from exc

    def close(self) -> None:
        """Close every open connection (the dispatcher calls this through the connector)."""
        with self._lock:
            conns, self._all = self._all, set()
        for conn in conns:
            conn.http.close()
        self._local = threading.local()

    def _exchange(
        self, conn: _Conn, target: str, body: bytes, headers: dict[str, str]
    ) -> HttpAnswer:
        conn.http.request("POST", target, body=body, headers=headers)
        response = conn.http.getresponse()
        data = response.read()  # read it all, or the connection cannot carry the next request
        conn.used_at = time.monotonic()
        return HttpAnswer(status=response.status, body=data)

    def _connection(
        self, origin: tuple[str, str], parts: urllib.parse.SplitResult, timeout: float
    ) -> _Conn:
        conns: dict[tuple[str, str], _Conn] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(origin)
        if conn is not None and time.monotonic() - conn.used_at > self.idle_seconds:
            self._drop(origin, conn)
            conn = None
        if conn is None:
            if parts.scheme == "https":
                made: http.client.HTTPConnection = http.client.HTTPSConnection(
                    parts.hostname or "", parts.port, timeout=timeout, context=self._context()
                )
            else:
                made = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
            conn = _Conn(made, time.monotonic())
            conns[origin] = conn
            with self._lock:
                self._all.add(conn)
        conn.http.timeout = timeout
        if conn.http.sock is not None:
            conn.http.sock.settimeout(timeout)
        return conn

    def _drop(self, origin: tuple[str, str], conn: _Conn) -> None:
        conns = self._local.__dict__.get("conns", {})
        if conns.get(origin) is conn:
            del conns[origin]
        with self._lock:
            self._all.discard(conn)
        conn.http.close()

    def _forget(self, origin: tuple[str, str]) -> None:
        """After a failure the connection's state is unknown: never reuse it."""
        conn = self._local.__dict__.get("conns", {}).get(origin)
        if conn is not None:
            self._drop(origin, conn)

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _uses_proxy(self, scheme: str, host: str) -> bool:
        key = (scheme, host)
        found = self._proxied.get(key)
        if found is None:
            found = scheme in urllib.request.getproxies() and not urllib.request.proxy_bypass(host)
            self._proxied[key] = found
        return found


def post_once(url: str, body: bytes, headers: dict[str, str], timeout: float) -> HttpAnswer:
    """POST over a new connection through urllib (honours proxies); raise TransportError."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpAnswer(status=response.status, body=response.read())
    except urllib.error.HTTPError as exc:
        return HttpAnswer(status=exc.code, body=exc.read())
    except TimeoutError as exc:
        raise TransportError(f"no answer within {timeout:g} seconds") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise TransportError(f"no answer within {timeout:g} seconds") from exc
        raise TransportError(str(reason)) from exc


post = post_once  # the one-shot function under its old name


def post_with(
    client: HttpClient | None, url: str, body: bytes, headers: dict[str, str], timeout: float
) -> HttpAnswer:
    """POST on the kept-alive `client`, or on a new connection when a connector keeps none."""
    if client is None:
        return post_once(url, body, headers, timeout)
    return client.post(url, body, headers, timeout)


def json_object(body: bytes) -> dict[str, Any]:
    """A provider's JSON answer; providers sometimes answer errors in HTML: anything but a
    JSON object reads as {}."""
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without an answer"
    return str(exc) or type(exc).__name__


def failure_for_status(status: int, reason: str) -> SendResult:
    """Map a non-2xx status: 5xx, 408 and 429 may pass later; other 4xx never will."""
    if status >= 500 or status in (408, 425, 429):
        return temporary(reason)
    return permanent(reason)
