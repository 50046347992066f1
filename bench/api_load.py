"""Load figures for the host-system API over real HTTP on 127.0.0.1.

Starts the designer app with the API under waitress in its own process on a free port, on a
fresh SQLite file, then measures:
- a bulk import of --cases cases through POST /api/v1/cases/bulk (10,000 per request);
- events accepted per second by POST /api/v1/cases/{id}/events from --clients concurrent
  clients (one keep-alive connection each) for --seconds, with p50/p99 latency.

Each phase also reports the CPU seconds it took, of the server process and of the clients (this
process): on a shared machine the wall-clock figures move with other people's load, CPU
seconds per request much less. `machine` gives the core count and load average at the start.

    python bench/api_load.py [--cases 100000] [--clients 16] [--seconds 10] [--json]

`--profile N` instead posts N events one after another through the app's WSGI stack in this
process (Flask's test client, no sockets) under cProfile, and prints the SQL statements per
request and the functions that took the time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
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
    config = {"DATABASE_URL": url, "SECRET_KEY": "bench", "DATABASE_POOL_SIZE": threads}
    app = designer.create_app(config)
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


class CpuMeter:
    """CPU seconds (user + system) of the server process and of this process, per phase."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def _server(self) -> float | None:
        try:
            with open(f"/proc/{self.server_pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):  # not Linux: no server figure
            return None

    def start(self) -> tuple[float | None, float]:
        """A reading to pass to `since`."""
        return self._server(), time.process_time()

    def since(self, start: tuple[float | None, float]) -> dict[str, float | None]:
        """CPU seconds used since `start`."""
        server, client = self._server(), time.process_time()
        used = None if server is None or start[0] is None else round(server - start[0], 2)
        return {"server": used, "clients": round(client - start[1], 2)}


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


def profile(requests: int) -> None:
    """N event POSTs, single-threaded through the real WSGI app, under cProfile."""
    import cProfile
    import pstats
    from collections import Counter

    from sqlalchemy import event

    import designer
    from designer.api import init_app
    from designer.db import get_db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api_profile.sqlite3'}"
        token = _prepare(url)
        app = designer.create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        init_app(app)
        client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        cases = [_case(i) for i in range(min(requests, BULK))]
        client.post("/api/v1/cases/bulk", json={"cases": cases}, headers=headers)

        def post(n: int, prefix: str) -> None:
            for i in range(n):
                body = {
                    "event_id": f"{prefix}-{i}",
                    "type": "payment_received",
                    "payload": {"amount": "1.00", "currency": "EUR"},
                }
                ext = cases[i % len(cases)]["external_id"]
                response = client.post(f"/api/v1/cases/{ext}/events", json=body, headers=headers)
                assert response.status_code == 202, response.get_data(as_text=True)

        post(100, "warm")
        seen: list[str] = []
        with app.app_context():
            engine = get_db().engine
        listener = lambda *a: seen.append(a[2].split()[0])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        post(100, "count")
        event.remove(engine, "before_cursor_execute", listener)
        per_request = {k: v / 100 for k, v in Counter(seen).items()}
        began, cpu = time.perf_counter(), time.process_time()
        post(requests, "plain")
        plain = (time.perf_counter() - began, time.process_time() - cpu)
        profiler = cProfile.Profile()
        profiler.runcall(post, requests, "profiled")
    print(f"statements per event POST: {per_request}")
    print(
        f"{requests} event POSTs without the profiler: {plain[0]:.2f} s wall, "
        f"{plain[1]:.2f} CPU s ({1000 * plain[1] / requests:.2f} ms CPU each)"
    )
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
    stats.print_stats(40)


def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--server-threads", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N event POSTs instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
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
            meter = CpuMeter(server.pid or 0)
            figures: dict[str, Any] = {
                "machine": {"cpus": os.cpu_count(), "load_average": _load_average()},
                "server_threads": args.server_threads,
            }
            mark = meter.start()
            figures["bulk_import"] = bulk_import(port, token, args.cases, min(args.clients, 2))
            figures["bulk_import"]["cpu_seconds"] = meter.since(mark)
            mark = meter.start()
            figures["events"] = events_load(port, token, args.cases, args.clients, args.seconds)
            figures["events"]["cpu_seconds"] = meter.since(mark)
        finally:
            server.terminate()
            server.join(10)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    bulk, ev = figures["bulk_import"], figures["events"]
    print(
        f"bulk import: {bulk['cases']:,} cases in {bulk['seconds']} s "
        f"({bulk['cases_per_second']:,}/s, {bulk['requests']} requests); "
        f"CPU s {_cpu(bulk['cpu_seconds'])}"
    )
    print(
        f"events: {ev['events_per_second']:,}/s from {ev['clients']} clients over "
        f"{ev['seconds']} s; p50 {ev['p50_ms']} ms, p99 {ev['p99_ms']} ms; errors {ev['errors']}; "
        f"CPU s {_cpu(ev['cpu_seconds'])}"
    )
    print(f"machine: {figures['machine']}; server threads {figures['server_threads']}")


def _cpu(used: dict[str, float | None]) -> str:
    return f"server {used['server']}, clients {used['clients']}"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    main()
