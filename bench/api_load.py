"""Load figures for the host-system API over real HTTP on 127.0.0.1.

Starts the server as `mahnwerk serve` does (the same command: Granian with --workers web
worker processes of --server-threads threads each; the scheduler process only with
--scheduler) on a free port and a fresh SQLite file, then measures:
- a bulk import of --cases cases through POST /api/v1/cases/bulk (10,000 per request);
- events accepted per second by POST /api/v1/cases/{id}/events from --clients concurrent
  clients (one keep-alive connection each) for --seconds, with p50/p99 latency: the headline;
- --bulk-events payment events through POST /api/v1/events/bulk (10,000 per request, two
  clients), a figure of its own for hosts that report in batches.

Each phase also reports the CPU seconds it took, of the server's processes (all of them) and of
the clients (this process), and for the events per request: on a shared machine the wall-clock
figures move with other people's load, CPU seconds per request much less. `machine` gives the
core count and load average at the start; `server` the serve command and how often its log
says "database is locked".

    python bench/api_load.py [--cases 100000] [--clients 16] [--seconds 10] [--workers N]
                             [--server-threads 4] [--scheduler] [--json]

`--profile N` instead posts N events one after another through the app's WSGI stack in this
process (Flask's test client, no sockets; its own cost is part of the figure) under cProfile,
and prints the SQL statements per request and the functions that took the time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BULK = 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(url: str) -> str:
    """Schema, the minimal journey published, and a write token."""
    from engine import Database, utcnow
    from engine.access.api_tokens import create_token
    from tests.factories import example_doc, publish

    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        publish(session, example_doc("minimal"), utcnow())
        token = create_token(session, "bench", ["write"], utcnow())[1]
    db.dispose()
    return token


def _serve(
    url: str, port: int, workers: int, threads: int, scheduler: bool, log: Any
) -> subprocess.Popen:
    """`mahnwerk serve` on the bench's database; its stderr goes to `log`."""
    env = {**os.environ, "DATABASE_URL": url, "MAHNWERK_SECRET_KEY": "bench"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "mahnwerk.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    command.append("--scheduler" if scheduler else "--no-scheduler")
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)


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
    """CPU seconds (user + system) of the server's process tree and of this process, per phase."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid

    def _server(self) -> float | None:
        try:
            return sum(_cpu_of(pid) for pid in _tree(self.server_pid))
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


def _tree(pid: int) -> list[int]:
    """The process and its descendants (the web workers, the scheduler)."""
    found = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            for child in children.read().split():
                found += _tree(int(child))
    return found


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _per_request(used: dict[str, float | None], requests: int) -> dict[str, float | None]:
    """Milliseconds of CPU per request, server and clients."""
    return {
        k: None if v is None or not requests else round(1000 * v / requests, 3)
        for k, v in used.items()
    }


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


def _post_bulk(
    port: int, token: str, path: str, key: str, bodies: list[dict[str, Any]], clients: int
) -> tuple[float, list[str]]:
    """POST every body to a bulk endpoint, `clients` at a time; seconds and the failures.

    A request fails unless it answers 200 with every item of `body[key]` created.
    """
    pending = list(bodies)
    failures: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        conn = _connect(port)
        while True:
            with lock:
                if not pending:
                    return
                body = pending.pop()
            status, answer = _request(conn, "POST", path, token, body)
            counts = json.loads(answer).get("counts", {}) if status == 200 else {}
            if status != 200 or counts.get("created") != len(body[key]):
                failures.append(f"{status} {answer[:200]!r}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(min(clients, len(bodies)))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, failures


def bulk_import(port: int, token: str, cases: int, clients: int) -> dict[str, Any]:
    """Import `cases` cases in requests of 10,000, `clients` requests at a time."""
    chunks = [range(s, min(s + BULK, cases)) for s in range(0, cases, BULK)]
    bodies = [{"cases": [_case(i) for i in chunk]} for chunk in chunks]
    seconds, failures = _post_bulk(port, token, "/api/v1/cases/bulk", "cases", bodies, clients)
    return {
        "cases": cases,
        "requests": len(bodies),
        "seconds": round(seconds, 2),
        "cases_per_second": round(cases / seconds),
        "failures": failures[:3],
    }


def bulk_events(port: int, token: str, cases: int, events: int, clients: int) -> dict[str, Any]:
    """Post `events` payment events through POST /events/bulk, 10,000 per request."""
    rng = random.Random(7)
    items = [
        {
            "case": f"LOAD-{rng.randrange(cases):07d}",
            "event_id": f"bulk-{i}",
            "type": "payment_received",
            "payload": {"amount": "1.00", "currency": "EUR"},
        }
        for i in range(events)
    ]
    bodies = [{"events": items[s : s + BULK]} for s in range(0, events, BULK)]
    seconds, failures = _post_bulk(port, token, "/api/v1/events/bulk", "events", bodies, clients)
    return {
        "events": events,
        "requests": len(bodies),
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds),
        "failures": failures[:3],
    }


class EventClient:
    """One keep-alive HTTP/1.1 connection that posts events for little CPU of its own.

    The load generator shares the machine's cores with the server it measures; http.client
    spends about 0.2 ms of CPU per request, this about a quarter of that (like wrk, in spirit).
    """

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n".encode()
        self.buffer = b""

    def post(self, path: str, body: bytes) -> int:
        """POST a JSON body; returns the status once the whole answer has arrived."""
        self.sock.sendall(
            b"POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self.head, len(body), body)
        )
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._receive()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = _content_length(head)
        while len(rest) < length:
            rest += self._receive()
        self.buffer = rest[length:]
        return int(head[9:12])

    def _receive(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        return chunk

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise ValueError("an answer without Content-Length (chunked answers are not expected here)")


def events_load(port: int, token: str, cases: int, clients: int, seconds: float) -> dict:
    """Post payment events from `clients` threads for `seconds`; latency per request."""
    stop = time.monotonic() + seconds
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def worker(n: int) -> None:
        client, rng, i = EventClient(port, token), random.Random(n), 0
        while time.monotonic() < stop:
            i += 1
            ext = f"LOAD-{rng.randrange(cases):07d}"
            body = (
                b'{"event_id": "ev-%d-%d", "type": "payment_received", '
                b'"payload": {"amount": "1.00", "currency": "EUR"}}' % (n, i)
            )
            began = time.perf_counter()
            status = client.post(f"/api/v1/cases/{ext}/events", body)
            latencies[n].append(time.perf_counter() - began)
            errors[n] += status != 202
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

    import api
    from mahnwerk_web.db import get_db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api_profile.sqlite3'}"
        token = _prepare(url)
        app = api.create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
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

        def trace(dbapi_connection: Any, *_: Any) -> None:
            # SQLite's own trace: the hot path runs statements on the DBAPI connection.
            dbapi_connection.set_trace_callback(lambda sql: seen.append(sql.split()[0]))

        def untrace(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.set_trace_callback(None)

        event.listen(engine, "checkout", trace)
        event.listen(engine, "checkin", untrace)
        post(100, "count")
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
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
    parser.add_argument("--bulk-events", type=int, default=100_000, help="0: skip that phase")
    parser.add_argument("--workers", type=int, default=None, help="default: serve's (cores)")
    parser.add_argument("--server-threads", type=int, default=None, help="default: serve's (4)")
    parser.add_argument("--scheduler", action="store_true", help="also run serve's scheduler")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N event POSTs instead")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
        return
    from mahnwerk.serve import DEFAULT_THREADS, default_workers

    workers = args.workers or default_workers()
    threads = args.server_threads or DEFAULT_THREADS
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'api_load.sqlite3'}"
        token = _prepare(url)
        port = _free_port()
        log_path = Path(tmp) / "serve.log"
        with log_path.open("w") as log:
            server = _serve(url, port, workers, threads, args.scheduler, log)
        try:
            _wait_for(port, token)
            figures = _measure(args, port, token, CpuMeter(server.pid))
        finally:
            server.terminate()
            server.wait(30)
        server_log = log_path.read_text(errors="replace")
    figures["server"] = {
        "command": f"mahnwerk serve --workers {workers} --threads {threads}"
        + ("" if args.scheduler else " --no-scheduler"),
        "database_locked_errors": server_log.count("database is locked"),
        "tracebacks": server_log.count("Traceback"),
    }
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
        f"CPU s {_cpu(ev['cpu_seconds'])}; CPU ms per event {_cpu(ev['cpu_ms_per_request'])}"
    )
    if "bulk_events" in figures:
        be = figures["bulk_events"]
        print(
            f"bulk events: {be['events']:,} in {be['seconds']} s ({be['events_per_second']:,}/s, "
            f"{be['requests']} requests of up to 10,000); CPU s {_cpu(be['cpu_seconds'])}"
        )
    print(f"machine: {figures['machine']}; server: {figures['server']}")


def _measure(args: argparse.Namespace, port: int, token: str, meter: CpuMeter) -> dict[str, Any]:
    """The bulk import, then the event load, each with the CPU it took."""
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_average": _load_average()}}
    mark = meter.start()
    figures["bulk_import"] = bulk_import(port, token, args.cases, min(args.clients, 2))
    figures["bulk_import"]["cpu_seconds"] = meter.since(mark)
    mark = meter.start()
    events = events_load(port, token, args.cases, args.clients, args.seconds)
    events["cpu_seconds"] = meter.since(mark)
    events["cpu_ms_per_request"] = _per_request(events["cpu_seconds"], events["events"])
    figures["events"] = events
    if args.bulk_events:  # a figure of its own: the headline stays single-event POSTs
        mark = meter.start()
        bulk = bulk_events(port, token, args.cases, args.bulk_events, 2)
        bulk["cpu_seconds"] = meter.since(mark)
        figures["bulk_events"] = bulk
    return figures


def _cpu(used: dict[str, float | None]) -> str:
    return f"server {used['server']}, clients {used['clients']}"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


if __name__ == "__main__":
    main()
