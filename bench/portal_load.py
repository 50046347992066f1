"""Load figures for the debtor portal and the provider webhook intake over HTTP on 127.0.0.1.

Starts the server as a user starts it (`python -m mahnwerk.cli serve`, bench/api_load.py's
`_serve`: Granian, --workers web worker processes of --server-threads threads each, no
scheduler) on a fresh SQLite file with demo data: a paying journey published (sandbox card
payments), --cases open cases, and for each case a sandbox checkout started through the engine
(`engine.start_checkout`, the portal's own path) and paid on the sandbox, whose signed webhook
(`Sandbox-Signature`, the key the server derives from the same MAHNWERK_SECRET_KEY) is kept for
the load. Then, with --clients keep-alive connections each:

- baseline: GET of a static file (no database), the floor of the stack on this machine;
- portal: GET /p/<signed link> of random real cases for --seconds: pages/s, p50/p95;
- webhooks: each stored webhook POSTed once to /hooks/payments/sandbox (distinct payments and
  provider events): accepted/s (202), p50/p95, and after the load how many provider events
  were stored (must equal the webhooks sent: exactly once) and processed into payments.

    python bench/portal_load.py [--cases 3000] [--clients 8] [--seconds 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import (  # noqa: E402
    CpuMeter,
    _content_length,
    _free_port,
    _load_average,
    _per_request,
    _serve,
)

SECRET = "bench"
BASELINE = "/static/favicon.svg"


def prepare(url: str, cases: int, port: int) -> tuple[list[str], list[tuple[dict, bytes]]]:
    """Demo data: the paying journey, open cases, their links, one paid sandbox webhook each."""
    from engine import Database, load_payment_providers, start_checkout, utcnow
    from engine.access.portal_links import portal_url
    from engine.storage.models import CaseRow, VersionRow
    from tests.engine.payments.conftest import paying_doc
    from tests.factories import make_cases, publish

    now = utcnow()
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        version = publish(session, paying_doc(methods=["card"]), now)
        make_cases(session, version, now, cases)
    with db.transaction() as session:
        rows = session.query(CaseRow.id, CaseRow.portal_link_gen).order_by(CaseRow.id).all()
        assert session.query(VersionRow).count() == 1
    base = f"http://127.0.0.1:{port}/p"
    links = [portal_url(row, now, base).removeprefix(f"http://127.0.0.1:{port}") for row in rows]
    registry = load_payment_providers()
    sandbox = registry.get("sandbox")
    hooks = []
    urls = (f"{base}/return/{{intent}}", f"{base}/cancel/{{intent}}")
    for row in rows:
        started = start_checkout(db, registry, row.id, "card", urls, now)
        hook = sandbox.complete(started.payment_id, "pay")  # type: ignore[attr-defined]
        hooks.append((dict(hook.headers), hook.body))
    db.dispose()
    return links, hooks


class Client:
    """One keep-alive HTTP/1.1 connection spending little CPU of its own (as api_load's)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
        """Send one request; returns the status once the whole answer has arrived."""
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
        self.sock.sendall(
            b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (method.encode(), path.encode(), head, len(body), body)
        )
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._receive()
        head_bytes, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = _content_length(head_bytes)
        while len(rest) < length:
            rest += self._receive()
        self.buffer = rest[length:]
        return int(head_bytes[9:12])

    def _receive(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def run_load(
    port: int,
    clients: int,
    next_request: Callable[[int, random.Random], tuple[str, str, dict, bytes] | None],
    expect: tuple[int, ...],
    seconds: float,
) -> dict[str, Any]:
    """`clients` threads send what `next_request` gives until it gives None or time is up."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def worker(n: int) -> None:
        client, rng = Client(port), random.Random(n)
        while time.monotonic() < stop:
            req = next_request(n, rng)
            if req is None:
                break
            began = time.perf_counter()
            status = client.request(*req)
            latencies[n].append(time.perf_counter() - began)
            errors[n] += status not in expect
        client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for per in latencies for x in per)
    return {
        "requests": len(flat),
        "seconds": round(elapsed, 2),
        "per_second": round(len(flat) / elapsed) if elapsed else None,
        "p50_ms": round(statistics.median(flat) * 1000, 2) if flat else None,
        "p95_ms": round(flat[max(int(len(flat) * 0.95) - 1, 0)] * 1000, 2) if flat else None,
        "errors": sum(errors),
    }


def _wait_for(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Client(port).request("GET", BASELINE, {}) == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _stored(url: str) -> dict[str, int]:
    """Provider events stored and processed, and payments received, read from the database."""
    from sqlalchemy import func, select

    from engine import Database
    from engine.storage.models import EventRow, ProviderEventRow

    db = Database(url)
    with db.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(ProviderEventRow))
        processed = session.scalar(
            select(func.count()).where(ProviderEventRow.processed_at.is_not(None))
        )
        paid = session.scalar(select(func.count()).where(EventRow.type == "payment_received"))
    db.dispose()
    return {"stored": stored or 0, "processed": processed or 0, "payment_events": paid or 0}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, serve, load; one dict of figures."""
    folder = Path(tempfile.mkdtemp(prefix="mahnwerk-portal-load-"))
    url = f"sqlite:///{folder / 'portal.sqlite3'}"
    port = _free_port()
    os.environ.update(
        {
            "MAHNWERK_INSTANCE": str(folder / "instance"),
            "MAHNWERK_SECRET_KEY": SECRET,
            "MAHNWERK_PORTAL_URL": f"http://127.0.0.1:{port}/p",
            "DATABASE_URL": url,
        }
    )
    began = time.perf_counter()
    links, hooks = prepare(url, args.cases, port)
    print(
        f"setup: {args.cases} cases and paid checkouts in {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    log = open(folder / "serve.log", "wb")  # noqa: SIM115 - closed below
    server = _serve(url, port, args.workers, args.server_threads, False, log)
    result: dict[str, Any] = {"machine": {"cores": os.cpu_count(), "load": _load_average()}}
    try:
        _wait_for(port)
        meter = CpuMeter(server.pid)
        html = {"Accept": "text/html", "Accept-Language": "de"}

        def static(n: int, rng: random.Random) -> tuple[str, str, dict, bytes]:
            return ("GET", BASELINE, {}, b"")

        def page(n: int, rng: random.Random) -> tuple[str, str, dict, bytes]:
            return ("GET", rng.choice(links), html, b"")

        queue = iter(hooks)
        lock = threading.Lock()

        def hook(n: int, rng: random.Random) -> tuple[str, str, dict, bytes] | None:
            with lock:
                found = next(queue, None)
            if found is None:
                return None
            return ("POST", "/hooks/payments/sandbox", found[0], found[1])

        for name, source, expect, seconds in (
            ("baseline_static", static, (200,), args.seconds),
            ("portal_page", page, (200,), args.seconds),
            ("webhooks", hook, (202,), 600.0),
        ):
            before = meter.start()
            figures = run_load(port, args.clients, source, expect, seconds)
            used = meter.since(before)
            figures["server_cpu_ms_per_request"] = _per_request(used, figures["requests"])
            result[name] = figures
        # Processing follows acceptance (after a lull): count until all are processed.
        settle_began, give_up = time.perf_counter(), time.monotonic() + args.settle
        while (counted := _stored(url))["processed"] < counted["stored"]:
            if time.monotonic() > give_up:
                break
            time.sleep(0.5)
        counted["processed_within_s"] = round(time.perf_counter() - settle_began, 1)
        result["webhooks"].update(counted)
        base = result["baseline_static"]["per_second"] or 1
        result["ratio_portal_to_baseline"] = round(result["portal_page"]["per_second"] / base, 3)
        result["ratio_webhooks_to_baseline"] = round(result["webhooks"]["per_second"] / base, 3)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    text = (folder / "serve.log").read_text("utf-8", "replace")
    result["server"] = {
        "workers": args.workers,
        "threads": args.server_threads,
        "database_locked": text.count("database is locked"),
        "tracebacks": text.count("Traceback"),
    }
    return result


def main() -> None:
    from mahnwerk.serve import DEFAULT_THREADS, default_workers

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=3000, help="cases = webhooks sent")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--server-threads", type=int, default=DEFAULT_THREADS)
    parser.add_argument("--settle", type=float, default=120.0, help="most seconds for processing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args)
    if args.json:
        print(json.dumps(result))
        return
    for name in ("baseline_static", "portal_page", "webhooks"):
        f = result[name]
        print(
            f"{name:16} {f['per_second']:>6}/s  p50 {f['p50_ms']} ms  p95 {f['p95_ms']} ms  "
            f"errors {f['errors']}  server CPU {f['server_cpu_ms_per_request']}"
        )
    hooks = result["webhooks"]
    print(
        f"webhooks stored {hooks['stored']} of {hooks['requests']} sent, processed "
        f"{hooks['processed']} within {hooks['processed_within_s']} s after the load, "
        f"payment events {hooks['payment_events']}"
    )
    print(
        f"ratio to baseline: portal {result['ratio_portal_to_baseline']}, webhooks "
        f"{result['ratio_webhooks_to_baseline']}; server {result['server']}"
    )


if __name__ == "__main__":
    main()
