"""The API's writer lock queues writers of one SQLite file across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from api.writer_lock import writer_lock_for

ROOT = Path(__file__).resolve().parents[3]
HOLD = """
import sys, time
from api.writer_lock import writer_lock_for
with writer_lock_for(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_another_process_holding_the_lock_makes_this_one_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.sqlite3'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, "0.6"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    began = time.monotonic()
    with writer_lock_for(url):
        waited = time.monotonic() - began
    holder.wait(10)
    assert waited > 0.3
    assert (tmp_path / "w.sqlite3-writer.lock").exists()


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    lock, inside, most = writer_lock_for(f"sqlite:///{tmp_path / 't.sqlite3'}"), [0], [0]

    def write() -> None:
        for _ in range(50):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1


def test_an_in_memory_database_has_only_the_thread_lock() -> None:
    assert writer_lock_for("sqlite://").path is None
