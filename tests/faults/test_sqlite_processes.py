"""Scenario 11: four API processes on one SQLite file, readers hammering while writers work.

Writers create in small batches, claim and complete through all four processes; readers list
tasks (with and without filters) and read the stats as fast as they can. No answer may be a
server error, and none may say "database is locked".
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError
from tests.faults.tier import scaled
from tests.multiserver.conftest import StartServers
from tests.multiserver.load import run_threads

PROCESSES = 4
SECONDS = 8.0


class Hammer:
    """Calls each action until the time is up, counting answers and keeping every error."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.errors: list[str] = []
        self.calls = itertools.count()
        self.lock = threading.Lock()

    def repeat(self, action: Callable[[], Any]) -> None:
        for _ in range(1_000_000):
            if time.monotonic() > self.deadline:
                return
            try:
                action()
            except TaskManagerError as exc:
                with self.lock:
                    self.errors.append(f"{type(exc).__name__} ({type(exc).status}): {exc}")
            next(self.calls)


def writer(client: Client, name: str) -> Callable[[], None]:
    counter = itertools.count()

    def write() -> None:
        batch = [{"type": "lock.item", "params": {"n": next(counter)}} for _ in range(10)]
        client.create_tasks(batch)
        for task in client.claim_batch(name, 10, wait_seconds=0):
            token = task["lease_token"]
            client.complete(task["id"], {"ok": True}, worker_id=name, lease_token=token)

    return write


def reader(client: Client, n: int) -> Callable[[], None]:
    queries = [{}, {"status": "pending"}, {"status": "completed"}, {"type": "lock.item"}]

    def read() -> None:
        client.list_tasks(limit=100, **queries[n % len(queries)])
        client.stats()

    return read


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_scenario_11_four_processes_on_one_sqlite_file(start_servers: StartServers) -> None:
    urls = [server.api_url for server in start_servers(PROCESSES)]
    clients = [Client(urls[n % PROCESSES], timeout=30) for n in range(12)]
    hammer = Hammer(scaled(1) * SECONDS)
    try:
        writers = [writer(clients[n], f"w{n}") for n in range(4)]
        readers = [reader(clients[n], n) for n in range(4, 12)]
        targets: list[Callable[[], None]] = [partial(hammer.repeat, a) for a in writers + readers]
        errors = run_threads(targets, 60 * scaled(1))
        with Client(urls[0]) as client:
            totals = client.stats()["totals"]
    finally:
        for client in clients:
            client.close()
    calls = next(hammer.calls)
    print(f"\nsqlite, {PROCESSES} processes: {calls} calls, {totals['completed']} tasks completed, "
          f"{len(hammer.errors)} errors")  # fmt: skip
    assert errors == []
    assert hammer.errors == []
    assert totals["completed"] > 0
