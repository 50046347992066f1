"""Load figures for the host-system API over real HTTP on 127.0.0.1.

Starts the designer app with the API under waitress in its own process on a free port, on a
fresh SQLite file, then measures:
- a bulk import of --cases cases through POST /api/v1/cases/bulk (10,000 per request);
- events accepted per second by POST /api/v1/cases/{id}/events from --clients concurrent
  clients (one keep-alive connection each) for --seconds, with p50/p99 latency.

    python bench/api_load.py [--cases 100000] [--clients 16] [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BULK = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(url: str) -> str:
    """Schema, the minimal journey published, and a write token."""
    from engine import Database, utcnow
    from engine.api_tokens import create_token
    from tests.factories import example_doc, publish

    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        publish(session, example_doc("minimal"), utcnow())
        token = create_token(session, "bench", ["write"], utcnow())[1]
    db.dispose()
    return token


def _serve(url: str, port: int, threads: int) -> None:
    """The server process: designer app + API under waitress."""
    import logging

    import waitress

    import designer
    from designer.api import init_app

    logging.getLogger("waitress").setLevel(logging.ERROR)
    app = designer.create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    init_app(app)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, connection_limit=1000)


def _wait_for(port: int, token: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = _request(_connect(port), "GET", "/api/v1/journeys", token)
            if status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the API server did not start")


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, token: str, body: Any = None
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    return response.status, response.read()


def _case(i: int) -> dict[str, Any]:
    return {
        "external_id": f"LOAD-{i:07d}",
        "debtor_name": f"Debtor {i}",
        "email": f"d{i}@example.org",
        "country": "DE",
        "currency": "EUR",
        "amount": "120.00",
        "due_date": "2026-03-02",
    }


def bulk_import(port: int, token: str, cases: int, clients: int) -> dict[str, Any]:
    """Import `cases` cases in requests of 10,000, `clients` requests at a time."""
    chunks = [list(range(s, min(s + BULK, cases))) for s in range(0, cases, BULK)]
    bodies = [{"cases": [_case(i) for i in chunk]} for chunk in chunks]
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = _connect(port)
        while True:
            with lock:
                if not bodies:
                    return
                body = bodies.pop()
            status, answer = _request(conn, "POST", "/api/v1/cases/bulk", token, body)
            counts = json.loads(answer).get("counts", {}) if status == 200 else {}
            if status != 200 or counts.get("created") != len(body["cases"]):
                failures.append(f"{status} {answer[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(min(clients, len(chunks)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {
        "cases": cases,
        "requests": len(chunks),
        "seconds": round(seconds, 2),
        "cases_per_second": round(cases / seconds),
        "failures": failures[:3],
    }


def events_load(port: int, token: str, cases: int, clients: int, seconds: float) -> dict:
    """Post payment events from `clients` threads for `seconds`; latency per request."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def worker(n: int) -> None:
        conn, rng, i = _connect(port), random.Random(n), 0
        while time.monotonic() < stop:
            i += 1
            ext = f"LOAD-{rng.randrange(cases):07d}"
            body = {
                "event_id": f"ev-{n}-{i}",
                "type": "payment_received",
                "payload": {"amount": "1.00", "currency": "EUR"},
            }
            began = time.perf_counter()
            status, _ = _request(conn, "POST", f"/api/v1/cases/{ext}/events", token, body)
            latencies[n].append(time.perf_counter() - began)
            errors[n] += status != 202

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for per in latencies for x in per)
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "events": len(flat),
        "events_per_second": round(len(flat) / elapsed),
        "p50_ms": round(statistics.median(flat) * 1000, 2) if flat else None,
        "p99_ms": round(flat[int(len(flat) * 0.99) - 1] * 1000, 2) if flat else None,
        "errors": sum(errors),
    }


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server-threads", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api_load.sqlite3'}"
        token = _prepare(url)
        port = _free_port()
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(url, port, args.server_threads), daemon=True
        )
        server.start()
        try:
            _wait_for(port, token)
            figures = {
                "bulk_import": bulk_import(port, token, args.cases, min(args.clients, 2)),
                "events": events_load(port, token, args.cases, args.clients, args.seconds),
            }
        finally:
            server.terminate()
            server.join(10)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    bulk, ev = figures["bulk_import"], figures["events"]
    print(
        f"bulk import: {bulk['cases']:,} cases in {bulk['seconds']} s "
        f"({bulk['cases_per_second']:,}/s, {bulk['requests']} requests)"
    )
    print(
        f"events: {ev['events_per_second']:,}/s from {ev['clients']} clients over "
        f"{ev['seconds']} s; p50 {ev['p50_ms']} ms, p99 {ev['p99_ms']} ms; errors {ev['errors']}"
    )


if __name__ == "__main__":
    main()
