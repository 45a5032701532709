"""A long poll waiting on one API process is woken by a task created through another.

The servers re-read the database on their own only every 30 s here, so a prompt answer can
only come from the cross-process watcher: LISTEN/NOTIFY on PostgreSQL, the sequence watcher on
MariaDB and SQLite.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer
from tests.multiserver.conftest import StartServers

NO_RECHECK = {"TASKMANAGER_LONG_POLL_RECHECK_SECONDS": "30"}


def _claim_in_background(url: str, wait: float, found: list[Any]) -> threading.Thread:
    def claim() -> None:
        with Client(url) as client:
            found.append(client.claim("waiter", task_types=["wake.me"], wait_seconds=wait))
        found.append(time.monotonic())

    thread = threading.Thread(target=claim, daemon=True)
    thread.start()
    return thread


def _wake_latency(a: LiveServer, b: LiveServer, wait: float, head_start: float) -> float:
    """Seconds from a create through A to the answer of a claim waiting on B."""
    found: list[Any] = []
    thread = _claim_in_background(b.api_url, wait, found)
    time.sleep(head_start)
    with Client(a.api_url) as client:
        task = client.create_task("wake.me", {"n": 1})
    created_at = time.monotonic()
    thread.join(timeout=wait + 10)
    assert not thread.is_alive()
    claimed, answered_at = found
    assert claimed is not None, "the waiting claim ended without the task"
    assert claimed["id"] == task["id"]
    latency: float = answered_at - created_at
    return latency


@pytest.mark.slow
@pytest.mark.serial
def test_a_claim_waiting_on_one_process_gets_a_task_created_through_another(
    backend: str, start_servers: StartServers
) -> None:
    a, b = start_servers(2, **NO_RECHECK)
    latencies = [_wake_latency(a, b, wait=20, head_start=0.5) for _ in range(3)]
    print(f"\n{backend}: cross-process wake-up in " + ", ".join(f"{s:.3f}" for s in latencies))
    # The watcher looks every 0.2 s; the server's own recheck would take 30 s.
    assert max(latencies) < 2.0

    # A slow watcher widens the moment between the claim's last look at the database and the
    # watcher's first look after it: a task created then must not wait for the 30 s recheck.
    (slow_watcher,) = start_servers(1, **NO_RECHECK, TASKMANAGER_WATCH_INTERVAL_SECONDS="2")
    latencies = []
    for _ in range(3):
        time.sleep(2.2)  # long enough for the watcher to see that nobody waits, and rest
        latencies.append(_wake_latency(a, slow_watcher, wait=12, head_start=0.3))
    print(f"{backend}: wake-up of a task created as the claim began waiting: {latencies}")
    assert max(latencies) < 5.0
