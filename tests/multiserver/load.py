"""Claimers and readers used by the multi-server scenarios, every call recorded in a History."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError
from tests.multiserver.history import History

LEASE_SECONDS = 60.0


def task_ids(tasks: list[dict[str, Any]]) -> list[str]:
    return [task["id"] for task in tasks]


def create_in_batches(
    history: History, api_urls: list[str], items: list[dict[str, Any]], size: int = 1000
) -> None:
    """Create the tasks through the servers in turn, `size` at a time."""
    clients = [Client(url) for url in api_urls]
    try:
        for n, start in enumerate(range(0, len(items), size)):
            client = clients[n % len(clients)]
            batch = items[start : start + size]
            history.call("create", "producer", partial(client.create_tasks, batch), task_ids)
    finally:
        for client in clients:
            client.close()


def claim_one_at_a_time(
    history: History, client: Client, worker_id: str, stop: Callable[[], bool], seconds: float
) -> None:
    """Long-poll claims, run, complete with the lease token; until `stop()` and nothing left."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        finished = stop()
        task = history.call(
            "claim",
            worker_id,
            lambda: client.claim(worker_id, lease_seconds=LEASE_SECONDS, wait_seconds=1),
            lambda t: [] if t is None else [t["id"]],
        )
        if task is None:
            if finished:
                return
            continue
        token = task["lease_token"]
        with history.execution(worker_id, task["id"], token, LEASE_SECONDS):
            result = {"n": task["params"]["n"]}
        history.call(
            "complete",
            worker_id,
            partial(client.complete, task["id"], result, worker_id=worker_id, lease_token=token),
            task_ids=(task["id"],),
            token=token,
        )
    raise AssertionError(f"{worker_id} still had work after {seconds} s")


def run_threads(targets: list[Callable[[], None]], seconds: float) -> list[BaseException]:
    """Run each target in its own thread; the exceptions they raised, or a timeout."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    alive = sum(thread.is_alive() for thread in threads)
    if alive:
        errors.append(TimeoutError(f"{alive} threads still running after {seconds} s"))
    return errors


def all_tasks(client: Client) -> list[dict[str, Any]]:
    """Every task the API knows, page by page."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = client.list_tasks(limit=500, cursor=cursor)
        found += page["tasks"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise TaskManagerError("too many pages")
