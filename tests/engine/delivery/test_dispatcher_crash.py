"""Crash safety against a real SMTP server: a dispatcher process killed at many points, restarted.

The scheduler's loop (tick, then dispatch) runs in a real subprocess on a virtual clock, a list
of moments: the night the cases arrive, the 08:00 rush minute by minute, then hourly for days.
The process ends itself at a named crash point (`engine/delivery/crash_points.py`) or is killed
with SIGKILL after a delay, and is restarted at the next moment (within the 5-minute lease in
the rush). aiosmtpd keeps every message it accepts with the moment the dispatcher was at.

Checked at the end: every message arrived, at most `WORKERS` emails per crash arrived twice
(the bound in docs/connectors.md), a case's messages arrived in order (no copy of an earlier
one after a later one), and DE's 12-hour minimum gap holds between a case's distinct messages.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from engine import Database
from engine.contact_policy import DE
from tests.factories import edge, journey_doc, make_case, node, outbox_rows, publish, template

ROOT = Path(__file__).resolve().parents[3]
NIGHT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 02:00 in Berlin: every reminder waits
WORKERS, BATCH = 4, 25
MESSAGE_ID = re.compile(rb"^Message-ID: <mahnwerk\.(\d+)@", re.MULTILINE | re.IGNORECASE)

DRIVER = """
import json, os, sys
from datetime import datetime
from engine import Database, Dispatcher, Runtime
from engine.delivery import crash_points
from engine.delivery.config import DeliveryConfig

url, profiles, moments, start, clock, progress, crash, workers, batch = sys.argv[1:]
if crash:
    point, nth = crash.split(":")
    crash_points.arm(point, int(nth))
db = Database(url)
config = DeliveryConfig(profiles=json.loads(profiles), source="test")
dispatcher = Dispatcher(
    db, config=config, portal_base_url="https://p.example", workers=int(workers),
    batch_size=int(batch),
)
runtime = Runtime(db)

def write(path, text):  # atomic: the SMTP server reads the clock while we write it
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

for i, moment in list(enumerate(json.loads(moments)))[int(start):]:
    write(clock, moment)
    now = datetime.fromisoformat(moment)
    runtime.tick(now)
    dispatcher.dispatch(now)
    write(progress, str(i))
dispatcher.close()
"""


class ClockedMailbox:
    """aiosmtpd handler: keeps (outbox id, the dispatcher's virtual moment) per accepted message."""

    def __init__(self, clock: Path) -> None:
        self.clock = clock
        self.received: list[tuple[int, datetime]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.content)
        assert found, envelope.content[:300]
        moment = datetime.fromisoformat(self.clock.read_text())
        self.received.append((int(found.group(1)), moment))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[tuple[ClockedMailbox, int]]:
    handler = ClockedMailbox(tmp_path / "clock")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def three_reminders() -> dict[str, Any]:
    """A German journey: three emails queued an hour apart, then a long wait."""
    nodes, edges, last = [node("start", "start")], [], "start"
    for i in range(3):
        nodes += [
            node(f"r{i}", "send", channel="email", template="reminder"),
            node(f"w{i}", "wait", mode="duration", days=21 if i == 2 else 0, hours=1),
        ]
        edges += [edge(last, f"r{i}"), edge(f"r{i}", f"w{i}")]
        last = f"w{i}"
    nodes.append(node("done", "end", outcome="closed"))
    edges.append(edge(last, "done"))
    return journey_doc(
        key="de-three",
        jurisdiction="DE",
        locale="de-DE",
        templates={"reminder": template(locale="de-DE")},
        nodes=nodes,
        edges=edges,
    )


def schedule(days: int = 4) -> list[str]:
    """Scheduler moments: hourly, and minute by minute through the first ten minutes of 08:00."""
    moments = []
    for hour in range(days * 24):
        at = NIGHT + timedelta(hours=hour)
        step = 10 if at.hour == 7 else 1  # 07:00 UTC is 08:00 in Berlin, when the guard opens
        moments += [at + timedelta(minutes=m) for m in range(step)]
    return [m.isoformat() for m in moments]


class Run:
    """One portfolio, its dispatcher process restarted after every crash until the last moment."""

    def __init__(self, db: Database, tmp: Path, smtp_port: int, cases: int) -> None:
        self.db, self.tmp = db, tmp
        with db.transaction() as session:
            version = publish(session, three_reminders(), NIGHT)
            for i in range(cases):
                make_case(session, version, NIGHT, email=f"debtor{i}@example.org")
        self.moments = schedule()
        self.profiles = {
            "email": {"provider": "smtp", "host": "127.0.0.1", "port": smtp_port},
            "sms": {"provider": "sandbox"},
            "letter": {"provider": "sandbox"},
        }
        self.profiles["email"]["security"] = "plain"
        self.crashes = 0
        self.start = 0

    def process(self, crash: str = "") -> subprocess.Popen[str]:
        args = [
            self.db.url,
            json.dumps(self.profiles),
            json.dumps(self.moments),
            str(self.start),
            str(self.tmp / "clock"),
            str(self.tmp / "progress"),
            crash,
            str(WORKERS),
            str(BATCH),
        ]
        return subprocess.Popen(
            [sys.executable, "-c", DRIVER, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finished(self, proc: subprocess.Popen[str]) -> bool:
        """Wait for the process; after a crash, restart at the moment after the one it died in."""
        _, stderr = proc.communicate(timeout=300)
        if proc.returncode == 0:
            return True
        assert proc.returncode in (137, -signal.SIGKILL), stderr
        self.crashes += 1
        progress = self.tmp / "progress"
        done = int(progress.read_text()) if progress.exists() else -1
        self.start = min(done + 2, len(self.moments) - 1)
        return False

    def until_done(self, crashes: list[str]) -> None:
        for crash in crashes:
            if self.finished(self.process(crash)):
                return
        assert self.finished(self.process())

    def killed_during_sends(self, mailbox: ClockedMailbox, kills: list[tuple[int, float]]) -> None:
        """SIGKILL once the server has `n` more messages, `delay` seconds later, per (n, delay)."""
        for more, delay in kills:
            proc, target = self.process(), len(mailbox.received) + more
            while len(mailbox.received) < target and proc.poll() is None:
                time.sleep(0.001)
            time.sleep(delay)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            if self.finished(proc):
                return
        assert self.finished(self.process())


def check(run: Run, mailbox: ClockedMailbox, record_property: Any) -> int:
    """Assert the promises; return the number of duplicate emails."""
    with run.db.transaction() as session:
        rows = {r.id: r for r in outbox_rows(session) if r.channel == "email"}
    arrivals = Counter(key for key, _ in mailbox.received)
    duplicates = sum(n - 1 for n in arrivals.values())
    record_property("duplicates", duplicates)
    record_property("crashes", run.crashes)
    print(f"\n{run.crashes} crashes, {len(rows)} emails, {duplicates} arrived twice")

    assert {r.status for r in rows.values()} == {"sent"}
    assert set(arrivals) == set(rows)  # nothing lost, nothing unknown
    assert duplicates <= WORKERS * run.crashes, (duplicates, run.crashes)
    by_case: dict[int, list[tuple[int, datetime]]] = defaultdict(list)
    for key, moment in mailbox.received:
        by_case[rows[key].case_id].append((key, moment))
    for case_id, got in by_case.items():
        keys = [key for key, _ in got]
        assert keys == sorted(keys), f"case {case_id}: out of order {got}"
        first = {key: min(m for k, m in got if k == key) for key in keys}
        last = {key: max(m for k, m in got if k == key) for key in keys}
        for earlier, later in pairwise(sorted(first)):
            gap = first[later] - last[earlier]
            assert gap >= DE.min_gap, f"case {case_id}: {gap} between {earlier} and {later}"
    return duplicates


@pytest.mark.parametrize(
    "crashes",
    [
        ["claimed:1"],
        ["accepted:1"],
        ["accepted:30"],
        ["recording:2"],
        ["recording:9"],
        ["recorded:3"],
        ["accepted:5", "recording:4", "accepted:40", "claimed:3"],
    ],
    ids=lambda crashes: "+".join(crashes),
)
def test_a_dispatcher_killed_at_a_crash_point_repeats_at_most_one_email_per_thread(
    db: Database, tmp_path: Path, mailbox: tuple[ClockedMailbox, int], record_property: Any, crashes
) -> None:
    run = Run(db, tmp_path, mailbox[1], cases=60)

    run.until_done(crashes)

    assert run.crashes == len(crashes)
    check(run, mailbox[0], record_property)


@pytest.mark.parametrize("kills", [[(1, 0.0)], [(17, 0.002)], [(40, 0.0), (30, 0.01)]], ids=str)
def test_a_dispatcher_killed_with_sigkill_repeats_at_most_one_email_per_thread(
    db: Database, tmp_path: Path, mailbox: tuple[ClockedMailbox, int], record_property: Any, kills
) -> None:
    run = Run(db, tmp_path, mailbox[1], cases=60)

    run.killed_during_sends(mailbox[0], kills)

    assert run.crashes == len(kills)
    check(run, mailbox[0], record_property)


@pytest.mark.slow
def test_a_dispatcher_killed_again_and_again_keeps_its_promises(
    db: Database, tmp_path: Path, mailbox: tuple[ClockedMailbox, int], record_property: Any
) -> None:
    run = Run(db, tmp_path, mailbox[1], cases=400)
    rng = random.Random(15)

    run.killed_during_sends(
        mailbox[0], [(rng.randint(1, 150), rng.uniform(0, 0.05)) for _ in range(10)]
    )

    assert run.crashes >= 6
    check(run, mailbox[0], record_property)
