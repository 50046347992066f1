"""GroupCommit: each thread's item is written before its put() returns, in shared groups."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.delivery.group_commit import GroupCommit


def test_each_item_is_written_once_before_its_thread_goes_on() -> None:
    written: list[list[int]] = []
    seen_after_put: list[bool] = []

    def write(group: list[int]) -> None:
        time.sleep(0.002)  # a commit takes a while: others queue up meanwhile
        written.append(group)

    commits = GroupCommit(write)

    def put(item: int) -> None:
        commits.put(item)
        seen_after_put.append(any(item in group for group in written))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(200)))

    assert sorted(i for group in written for i in group) == list(range(200))
    assert all(seen_after_put) and len(written) < 200  # grouped, and durable before going on
    assert max(len(group) for group in written) <= 8  # never more than one item per thread


def test_a_failed_write_reaches_every_thread_of_its_group() -> None:
    release = threading.Event()

    def write(group: list[int]) -> None:
        release.wait(5)
        raise RuntimeError(f"disk full for {group}")

    commits = GroupCommit(write)
    errors: list[str] = []

    def put(item: int) -> None:
        with pytest.raises(RuntimeError) as caught:
            commits.put(item)
        errors.append(str(caught.value))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)

    assert len(errors) == 3
