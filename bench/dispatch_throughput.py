"""Messages per second through the whole dispatcher: real SMTP and Twilio-compatible servers.

Setup (not timed): a SQLite file in a temp dir, a published journey with an email and an SMS
template, `--messages` cases per channel (German debtors, Tuesday 10:00 in Berlin, so the guard
allows every send) and one pending outbox row per case, all bulk inserted. The servers run in
child processes on 127.0.0.1, as a real provider would be apart from the dispatcher: aiosmtpd
(plain SMTP, counts messages) and a threaded http.server speaking Twilio's Create-Message API
(honours I-Twilio-Idempotency-Token, counts messages) over HTTP/1.1 with keep-alive, as
api.twilio.com does (`--http10`: close after every answer, as this bench's server did before).

Timed: `Dispatcher.dispatch(now)` until the outbox is drained (claim, guard, render, send in the
thread pool, record), once for email and once for SMS. Beside it, in the same run: the guard
alone (`decide()` on the same messages), and a baseline: the same connector sending the same
number of pre-built messages from a thread pool of the same size, without the dispatcher.

Besides wall time every phase reports CPU seconds: of this process (all its threads) and of the
server processes, so a busy shared machine can be told apart from a slower dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Run from a checkout without installing: the repo root holds the engine package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
from sqlalchemy import func, insert, select

from connectors import EmailMessage, SmsMessage
from engine import Database, Dispatcher
from engine.authoring.versions import save_version
from engine.contact_policy import decide
from engine.core.settings import load_settings
from engine.delivery.config import DeliveryConfig
from engine.delivery.dispatcher import _context
from engine.intake.cases import CaseSchema, case_values
from engine.storage.models import CaseRow, OutboxRow

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin, no holiday
ACCOUNT, TOKEN = "ACbench", "bench-token"
CHUNK = 5000

JOURNEY = {
    "schema_version": 2,
    "key": "bench-dispatch",
    "name": "Dispatch bench",
    "locale": "de-DE",
    "currency": "EUR",
    "jurisdiction": "DE",
    "nodes": [
        {"id": "start", "type": "start", "params": {}, "position": {"x": 0, "y": 0}},
        {
            "id": "mail",
            "type": "send",
            "params": {"channel": "email", "template": "mail", "tone": 1},
            "position": {"x": 1, "y": 0},
        },
        {
            "id": "wait",
            "type": "wait",
            "params": {"mode": "duration", "days": 3},
            "position": {"x": 2, "y": 0},
        },
        {
            "id": "text",
            "type": "send",
            "params": {"channel": "sms", "template": "text", "tone": 1},
            "position": {"x": 3, "y": 0},
        },
        {
            "id": "done",
            "type": "end",
            "params": {"outcome": "closed"},
            "position": {"x": 4, "y": 0},
        },
    ],
    "edges": [
        {"from": "start", "port": "next", "to": "mail"},
        {"from": "mail", "port": "next", "to": "wait"},
        {"from": "wait", "port": "next", "to": "text"},
        {"from": "text", "port": "next", "to": "done"},
    ],
    "templates": {
        "mail": {
            "channel": "email",
            "variants": [
                {
                    "locale": "de-DE",
                    "tone": 1,
                    "subject": "Zahlungserinnerung {{ reference }}",
                    "body": "Sehr geehrte/r {{ debtor_name }},\n\nunsere Rechnung {{ reference }}"
                    " über {{ format_money(amount_open) }} war am {{ format_date(due_date) }}"
                    " fällig. Hier können Sie bezahlen: {{ portal_url }}\n\n{{ creditor_name }}",
                }
            ],
        },
        "text": {
            "channel": "sms",
            "variants": [
                {
                    "locale": "de-DE",
                    "tone": 1,
                    "subject": "",
                    "body": "{{ creditor_name }}: Rechnung {{ reference }} über "
                    "{{ format_money(amount_open) }} ist offen. {{ portal_url }}",
                }
            ],
        },
    },
}


# -- servers in child processes ----------------------------------------------------------------


def _smtp_server(port: int, count: Any, ready: Any) -> None:
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
            return "250 Message accepted for delivery"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    threading.Event().wait()


def _twilio_server(port: int, count: Any, ready: Any, http10: bool = False) -> None:
    tokens: dict[str, bytes] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0" if http10 else "HTTP/1.1"
        # Headers and body are two writes; without TCP_NODELAY the body waits for the client's
        # delayed ACK (~40 ms) on a kept-alive connection. Real providers do not stall so.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            token = self.headers.get("I-Twilio-Idempotency-Token", "")
            with lock:
                answer = tokens.get(token)
                if answer is None:
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    sid = f"SM{uuid.uuid4().hex}"
                    answer = json.dumps(
                        {"sid": sid, "status": "queued", "to": form.get("To"), "num_segments": "1"}
                    ).encode()
                    tokens[token] = answer
                    with count.get_lock():
                        count.value += 1
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


def _start(target: Any, *extra: Any) -> tuple[int, Any, Any]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    count, ready = mp.Value("i", 0), mp.Event()
    process = mp.Process(target=target, args=(port, count, ready, *extra), daemon=True)
    process.start()
    if not ready.wait(30):
        raise RuntimeError(f"{target.__name__} did not start")
    return port, count, process


# -- setup ---------------------------------------------------------------------------------


def setup(db: Database, count: int) -> dict[str, Any]:
    """Journey, 2 × count cases, one pending outbox row per case (email or SMS)."""
    db.create_all()
    schema = CaseSchema()
    with db.transaction() as session:
        version = save_version(session, json.loads(json.dumps(JOURNEY)), NOW, status="published")
        version_id = version.id
        for channel in ("email", "sms"):
            for start in range(0, count, CHUNK):
                rows = [
                    case_values(
                        schema.load(
                            {
                                "external_id": f"{channel}-{i:06d}",
                                "debtor_name": f"Erika Mustermann {i}",
                                "email": f"erika{i}@example.org",
                                "phone": f"+49151{20000000 + i:08d}",
                                "country": "DE",
                                "currency": "EUR",
                                "amount": "89.00",
                                "due_date": "2026-02-10",
                            }
                        ),
                        version,
                        NOW,
                    )
                    for i in range(start, min(start + CHUNK, count))
                ]
                for row in rows:
                    row.update(node_id="wait", visits=2, due_at=None)
                session.execute(insert(CaseRow), rows)
        ids = dict(
            session.execute(select(CaseRow.external_id, CaseRow.id)).all()  # type: ignore[arg-type]
        )
        for channel, node in (("email", "mail"), ("sms", "text")):
            outbox = [
                {
                    "idempotency_key": f"c{ids[f'{channel}-{i:06d}']}-v2-{node}",
                    "case_id": ids[f"{channel}-{i:06d}"],
                    "version_id": version_id,
                    "node_id": node,
                    "channel": channel,
                    "template": node,
                    "tone": 1,
                    "purpose": "reminder",
                    "status": "pending",
                    "not_before": NOW.replace(tzinfo=None),
                    "attempts": 0,
                    "created_at": NOW.replace(tzinfo=None),
                }
                for i in range(count)
            ]
            for start in range(0, count, CHUNK):
                session.execute(insert(OutboxRow), outbox[start : start + CHUNK])
    return {"version_id": version_id}


def profiles(smtp_port: int, twilio_port: int, reuse: bool = True) -> dict[str, dict[str, Any]]:
    return {
        "email": {
            "provider": "smtp",
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "plain",
            "reuse_session": reuse,
        },
        "sms": {
            "provider": "twilio",
            "account_sid": ACCOUNT,
            "auth_token": TOKEN,
            "from_number": "+4930123456",
            "base_url": f"http://127.0.0.1:{twilio_port}",
            "price_per_segment": "0.075",
        },
        "letter": {"provider": "sandbox"},
    }


# -- measurements --------------------------------------------------------------------------


class CpuClock:
    """CPU seconds of this process (every thread) and of the server processes, per phase."""

    def __init__(self, *pids: int) -> None:
        self.servers = [psutil.Process(pid) for pid in pids]

    def _now(self) -> tuple[float, float]:
        own = time.process_time()
        servers = sum(sum(p.cpu_times()[:2]) for p in self.servers)
        return own, servers

    def measure(self, phase: Any) -> tuple[Any, dict[str, float]]:
        """Run phase(); return its result and {wall_s, cpu_s, server_cpu_s}."""
        cpu0, srv0 = self._now()
        wall0 = time.perf_counter()
        result = phase()
        wall = time.perf_counter() - wall0
        cpu1, srv1 = self._now()
        return result, {
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu1 - cpu0, 2),
            "server_cpu_s": round(srv1 - srv0, 2),
        }


def run_dispatcher(dispatcher: Dispatcher, channel: str, db: Database) -> tuple[float, int]:
    """Only this channel's rows are pending while it runs (the other's wait an hour)."""
    start = time.perf_counter()
    report = dispatcher.dispatch(NOW)
    seconds = time.perf_counter() - start
    with db.transaction() as session:
        sent = session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(OutboxRow.channel == channel, OutboxRow.status == "sent")
        )
    assert report.sent == sent, (report, sent)
    return seconds, int(sent or 0)


def hold(db: Database, channel: str, held: bool) -> None:
    """Park one channel's rows an hour ahead, so a run drains only the other channel."""
    from sqlalchemy import update

    moment = NOW.replace(tzinfo=None, hour=NOW.hour + 1) if held else NOW.replace(tzinfo=None)
    with db.transaction() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.channel == channel, OutboxRow.status == "pending")
            .values(not_before=moment)
        )


def guard_cost(db: Database, dispatcher: Dispatcher) -> float:
    """µs per decide() on the same messages and cases (policy and context as the dispatcher)."""
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxRow, CaseRow).join(CaseRow, CaseRow.id == OutboxRow.case_id)
        ).all()
        version = dispatcher.versions.get(session, rows[0][0].version_id)
        inputs = [
            (dispatcher._policy(version.journey.jurisdiction, c), _context(m, c)) for m, c in rows
        ]
    for policy, context in inputs[:100]:
        decide(policy, context, [], NOW)  # warm the caches, as a running dispatcher has them
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for policy, context in inputs:
            decide(policy, context, [], NOW)
        best = min(best, time.perf_counter() - start)
    return best / len(inputs) * 1e6


def baseline(connector: Any, messages: list[Any], workers: int) -> float:
    """Messages per second of the bare connector from a pool of the same size."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        start = time.perf_counter()
        results = list(pool.map(connector.send, messages))
        seconds = time.perf_counter() - start
    refused = [r for r in results if r.status != "accepted"]
    assert not refused, refused[:3]
    return len(messages) / seconds


def email_messages(count: int) -> list[EmailMessage]:
    return [
        EmailMessage(
            idempotency_key=f"base-{i}",
            to=f"erika{i}@example.org",
            from_addr="forderungen@mahnwerk.example",
            subject=f"Zahlungserinnerung email-{i:06d}",
            text=f"Sehr geehrte/r Erika Mustermann {i},\n\nunsere Rechnung über 89,00 € ...",
            list_unsubscribe=f"http://127.0.0.1:5000/p/email-{i:06d}/contact",
        )
        for i in range(count)
    ]


def sms_messages(count: int) -> list[SmsMessage]:
    return [
        SmsMessage(
            idempotency_key=f"base-{i}",
            to=f"+49151{20000000 + i:08d}",
            body=f"Mahnwerk Demo GmbH: Rechnung sms-{i:06d} über 89,00 € ist offen.",
        )
        for i in range(count)
    ]


def measure(
    count: int,
    batch_size: int,
    workers: int,
    skip_baseline: bool,
    reuse: bool = True,
    http10: bool = False,
) -> dict[str, Any]:
    smtp_port, smtp_count, smtp_proc = _start(_smtp_server)
    twilio_port, sms_count, twilio_proc = _start(_twilio_server, http10)
    clock = CpuClock(smtp_proc.pid, twilio_proc.pid)
    cpu: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="mahnwerk-dispatch-") as tmp:
            db = Database(f"sqlite:///{tmp}/bench.sqlite3")
            print(f"setup: {count} email + {count} SMS rows ...", file=sys.stderr)
            setup(db, count)
            settings = profiles(smtp_port, twilio_port, reuse)
            config = DeliveryConfig(profiles=settings, source="bench")
            dispatcher = Dispatcher(
                db, config=config, batch_size=batch_size, workers=workers, portal_base_url=None
            )
            guard_us = guard_cost(db, dispatcher)
            hold(db, "sms", True)
            (email_s, email_sent), cpu["email"] = clock.measure(
                lambda: run_dispatcher(dispatcher, "email", db)
            )
            hold(db, "sms", False)
            (sms_s, sms_sent), cpu["sms"] = clock.measure(
                lambda: run_dispatcher(dispatcher, "sms", db)
            )
            served = (smtp_count.value, sms_count.value)  # before the baseline adds its own
            figures: dict[str, Any] = {
                "email_per_s": round(email_sent / email_s, 1),
                "sms_per_s": round(sms_sent / sms_s, 1),
                "guard_us_per_message": round(guard_us, 2),
                "email_sent": email_sent,
                "sms_sent": sms_sent,
                "smtp_server_count": served[0],
                "sms_server_count": served[1],
                "email_seconds": round(email_s, 2),
                "sms_seconds": round(sms_s, 2),
                "batch_size": batch_size,
                "workers": workers,
                "smtp_reuse_session": reuse,
                "sms_server_http": "1.0" if http10 else "1.1",
            }
            if not skip_baseline:
                connectors = config.connectors()
                figures["email_baseline_per_s"], cpu["email_baseline"] = clock.measure(
                    lambda: round(baseline(connectors["email"], email_messages(count), workers), 1)
                )
                figures["sms_baseline_per_s"], cpu["sms_baseline"] = clock.measure(
                    lambda: round(baseline(connectors["sms"], sms_messages(count), workers), 1)
                )
                for channel in ("email", "sms"):
                    figures[f"{channel}_ratio"] = round(
                        figures[f"{channel}_per_s"] / figures[f"{channel}_baseline_per_s"], 2
                    )
                    close = getattr(connectors[channel], "close", None)
                    if callable(close):
                        close()
            for phase, spent in cpu.items():
                figures[f"{phase}_cpu_s"] = spent["cpu_s"]
                figures[f"{phase}_server_cpu_s"] = spent["server_cpu_s"]
            figures["load_average_1m"] = round(os.getloadavg()[0], 2)
            dispatcher.close()
            db.dispose()
            return figures
    finally:
        for process in (smtp_proc, twilio_proc):
            process.terminate()
            process.join(5)


def main() -> None:
    """Parse arguments, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages per channel")
    settings = load_settings()
    parser.add_argument(
        "--batch-size",
        type=int,
        default=settings.dispatch_batch,
        help="Dispatcher(batch_size=); default MAHNWERK_DISPATCH_BATCH or its default",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=settings.dispatch_workers,
        help="Dispatcher(workers=); default MAHNWERK_DISPATCH_WORKERS or its default",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="dispatcher figures only")
    parser.add_argument(
        "--no-reuse", action="store_true", help="one SMTP session per message (the old way)"
    )
    parser.add_argument(
        "--http10", action="store_true", help="SMS server closes every connection (HTTP/1.0)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    asyncio.set_event_loop_policy(None)
    figures = measure(
        args.messages,
        args.batch_size,
        args.workers,
        args.skip_baseline,
        not args.no_reuse,
        args.http10,
    )
    if args.json:
        print(json.dumps(figures))
        return
    print(f"email: {figures['email_per_s']} messages/s through the dispatcher", end="")
    if "email_baseline_per_s" in figures:
        print(
            f" (bare connector {figures['email_baseline_per_s']}/s, "
            f"ratio {figures['email_ratio']})",
            end="",
        )
    print(f"\nsms:   {figures['sms_per_s']} messages/s through the dispatcher", end="")
    if "sms_baseline_per_s" in figures:
        print(
            f" (bare connector {figures['sms_baseline_per_s']}/s, ratio {figures['sms_ratio']})",
            end="",
        )
    print(f"\nguard: {figures['guard_us_per_message']} µs per message (decide() alone)")
    for phase in ("email", "sms", "email_baseline", "sms_baseline"):
        if f"{phase}_cpu_s" in figures:
            print(
                f"cpu {phase}: {figures[f'{phase}_cpu_s']} s in this process, "
                f"{figures[f'{phase}_server_cpu_s']} s in the servers"
            )
    print(
        f"batch {figures['batch_size']}, {figures['workers']} workers, SMS server HTTP/"
        f"{figures['sms_server_http']}, load average {figures['load_average_1m']}"
    )
    print(
        f"servers counted {figures['smtp_server_count']} emails "
        f"(dispatcher sent {figures['email_sent']}) and {figures['sms_server_count']} SMS "
        f"(dispatcher sent {figures['sms_sent']})"
    )


if __name__ == "__main__":
    main()
