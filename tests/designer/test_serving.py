"""`mahnwerk serve` for real: web worker processes and one scheduler process on a SQLite file."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from engine import Database, add_user, utcnow
from engine.access.api_tokens import CACHE_SECONDS, create_token, revoke_token
from engine.storage.models import EventRow
from mahnwerk.serve import default_workers
from tests.factories import example_doc, publish

ROOT = Path(__file__).resolve().parents[2]
MANAGER, PASSWORD = "manager@example.org", "correct-horse-battery"
pytestmark = pytest.mark.slow


@dataclass
class Served:
    """A running `mahnwerk serve` and what the tests need to talk to it."""

    process: subprocess.Popen
    port: int
    url: str
    tokens: dict[str, int | str]
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(port: int, token: str, external_id: str, event_id: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = json.dumps({"event_id": event_id, "type": "dispute_opened"})
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request("POST", f"/api/v1/cases/{external_id}/events", body, headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found += [int(c) for c in children.read().split()]
    return found


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`mahnwerk serve --workers 2` with its scheduler, on a fresh database with 20 cases."""
    if not Path("/proc/self/task").exists():
        pytest.skip("reads the process tree from /proc")
    folder = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{folder / 'serve.sqlite3'}"
    db = Database(url)
    db.create_all()
    with db.transaction() as session:
        publish(session, example_doc("minimal"), utcnow())
        add_user(session, MANAGER, PASSWORD, "manager", utcnow())
        load = create_token(session, "load", ["write"], utcnow())
        doomed = create_token(session, "doomed", ["write"], utcnow())
        tokens: dict[str, int | str] = {
            "load": load[1],
            "doomed": doomed[1],
            "doomed_id": doomed[0].id,
        }
    db.dispose()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "MAHNWERK_TICK_SECONDS": "1"}
    env["MAHNWERK_SECRET_KEY"] = "serve-test-" + "k" * 32  # serve refuses to run without one
    env["PYTHONPATH"] = str(ROOT)
    log = folder / "serve.log"
    command = [sys.executable, "-m", "mahnwerk.cli", "serve", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(
            [*command, "--workers", "2", "--threads", "2"], env=env, stdout=out, stderr=out
        )
    served = Served(process, port, url, tokens, log)
    try:
        _wait_until_up(served)
        _open_cases(served, 20)
        yield served
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def _wait_until_up(served: Served) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()
        try:
            if _post(served.port, str(served.tokens["load"]), "NONE", "probe") == 404:
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("mahnwerk serve did not answer: " + served.log.read_text())


def _open_cases(served: Served, count: int) -> None:
    cases = [
        {
            "external_id": f"S-{i}",
            "debtor_name": f"Debtor {i}",
            "email": f"d{i}@example.org",
            "country": "DE",
            "currency": "EUR",
            "amount": "100.00",
            "due_date": "2026-03-02",
        }
        for i in range(count)
    ]
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    headers = {
        "Authorization": f"Bearer {served.tokens['load']}",
        "Content-Type": "application/json",
    }
    conn.request("POST", "/api/v1/cases/bulk", json.dumps({"cases": cases}), headers)
    response = conn.getresponse()
    assert response.status == 200, response.read()
    conn.close()


def test_serve_runs_web_workers_and_exactly_one_scheduler(served: Served) -> None:
    children = [_cmdline(pid) for pid in _children(served.process.pid)]
    schedulers = [c for c in children if "spawn_main" in c]
    workers = [c for c in children if " mahnwerk.cli serve " in c]
    assert (len(schedulers), len(workers)) == (1, 2), children
    # Its tick (every second here) applies what the API stored.
    assert _post(served.port, str(served.tokens["load"]), "S-0", "tick-probe") == 202
    db = Database(served.url)
    deadline = time.monotonic() + 20
    applied = None
    while applied is None and time.monotonic() < deadline:
        time.sleep(0.5)
        with db.transaction() as session:
            row = select(EventRow.applied_at).where(EventRow.event_id == "tick-probe")
            applied = session.scalar(row)
    db.dispose()
    assert applied is not None


def test_concurrent_events_across_workers_are_all_stored(served: Served) -> None:
    token, statuses = str(served.tokens["load"]), []

    def client(n: int) -> None:
        for i in range(40):
            statuses.append(_post(served.port, token, f"S-{(n + i) % 20}", f"load-{n}-{i}"))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [202] * 320
    db = Database(served.url)
    with db.transaction() as session:
        stored = session.scalar(
            select(func.count()).select_from(EventRow).where(EventRow.event_id.like("load-%"))
        )
    db.dispose()
    assert stored == 320
    assert "database is locked" not in served.log.read_text()


def test_a_revoked_token_is_refused_by_every_worker_within_seconds(served: Served) -> None:
    token = str(served.tokens["doomed"])
    # New connections, so both workers serve some and cache the token.
    assert [_post(served.port, token, "S-1", f"before-{i}") for i in range(20)] == [202] * 20
    db = Database(served.url)
    with db.transaction() as session:  # as `mahnwerk token revoke` does, from another process
        revoke_token(session, int(served.tokens["doomed_id"]), utcnow())
    db.dispose()
    time.sleep(CACHE_SECONDS + 0.3)
    assert [_post(served.port, token, "S-1", f"after-{i}") for i in range(20)] == [401] * 20


@dataclass
class Browser:
    """A designer user over HTTP, each request on a new connection that any worker may accept."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, htmx: bool = False
    ) -> tuple[int, str, str]:
        """Status, Location and body of one request, keeping the cookies it sets."""
        headers = {"HX-Request": "true"} if htmx else {}
        body: str | bytes | None = None
        if form is not None:
            body = urlencode({**form, "csrf_token": self.csrf})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.send(method, path, body, headers)

    def send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        """One request on a fresh connection."""
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            text = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.cookies.update({k: m.value for k, m in SimpleCookie(header).items()})
            return response.status, response.headers.get("Location", ""), text
        finally:
            conn.close()

    def sign_in(self) -> None:
        """Sign in as the manager, keeping the session's CSRF token for later forms."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.request("GET", "/login")[2])
        assert found is not None
        self.csrf = found.group(1)
        status, _, text = self.request("POST", "/login", {"email": MANAGER, "password": PASSWORD})
        assert status == 302, text

    def upload(self, name: str, content: bytes) -> tuple[int, str, str]:
        """Post a file to the import wizard as a browser's form would."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f'{self.csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: text/csv\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        return self.send("POST", "/imports", body, headers)

    def poll(self, path: str, burst: int = 6) -> str:
        """Poll a progress fragment in bursts of parallel connections until it stops polling."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with ThreadPoolExecutor(burst) as pool:
                answers = list(
                    pool.map(lambda _n: self.request("GET", path, htmx=True), range(burst))
                )
            assert [status for status, _, _ in answers] == [200] * burst, answers
            if all("every 500ms" not in text for _, _, text in answers):
                return answers[-1][2]
            time.sleep(0.2)
        raise AssertionError(f"{path} still running")


def test_any_worker_answers_a_simulation_started_on_another(served: Served) -> None:
    browser = Browser(served.port)
    browser.sign_in()
    form = {"cases": "100", "days": "20", "seed": "3"}
    status, location, _ = browser.request("POST", "/journeys/minimal/v1/simulate", form)
    assert status == 302 and location.startswith("/simulations/")
    fragment = browser.poll(location)
    assert fragment.count("<svg") == 2 and "100 cases, 20 days, seed 3." in fragment
    pages = [browser.request("GET", location) for _ in range(6)]
    assert all(status == 200 and "<svg" in text for status, _, text in pages)


def test_any_worker_carries_on_an_import_started_on_another(served: Served) -> None:
    browser = Browser(served.port)
    browser.sign_in()
    header = "external_id,debtor_name,country,currency,amount,due_date"
    rows = [f"IMP-{n},Debtor {n},DE,EUR,{n}.50,2026-11-01" for n in range(1, 301)]
    status, location, text = browser.upload("cases.csv", "\n".join([header, *rows]).encode())
    assert status == 302, text
    pages = [browser.request("GET", location) for _ in range(6)]  # the mapping page
    assert all(status == 200 and "IMP-1" in text for status, _, text in pages)
    chosen = {f"col-{n}": name for n, name in enumerate(header.split(","))}
    status, run, text = browser.request("POST", f"{location}/run", {"journey": "minimal", **chosen})
    assert status == 302, text
    summary = browser.poll(run)
    assert '<span class="imported">300</span>' in summary


def test_sigterm_stops_the_workers_and_the_scheduler(served: Served) -> None:
    children = _children(served.process.pid)
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(30) == 0
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]


def test_the_default_is_one_web_worker_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert default_workers() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: still one worker
    assert default_workers() == 1
