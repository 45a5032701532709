"""Many workers, one server: every task is claimed once and completed once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer

TASKS = 2000
BATCH = 250
CLAIMERS = 16


class History:
    """Every claim and completion, as the workers saw them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: list[str] = []
        self.claimed: list[tuple[str, str]] = []  # (task id, worker id)
        self.completed: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []


def _produce(api_url: str, history: History, done: threading.Event) -> None:
    try:
        with Client(api_url) as client:
            for start in range(0, TASKS, BATCH):
                batch = [
                    {"type": "load.item", "params": {"n": n}} for n in range(start, start + BATCH)
                ]
                created = client.create_tasks(batch)
                with history.lock:
                    history.created.extend(task["id"] for task in created)
    except BaseException as exc:
        history.errors.append(exc)
    finally:
        done.set()


def _claim_until_empty(
    api_url: str, worker_id: str, history: History, produced: threading.Event
) -> None:
    deadline = time.monotonic() + 120
    try:
        with Client(api_url) as client:
            for _ in range(TASKS * 2):
                assert time.monotonic() < deadline, "claimers ran out of time"
                finished = produced.is_set()
                task = client.claim(worker_id, wait_seconds=0.5)
                if task is None:
                    if finished:
                        return
                    continue
                with history.lock:
                    history.claimed.append((task["id"], worker_id))
                result = {"n": task["params"]["n"], "by": worker_id}
                done = client.complete(
                    task["id"], result, worker_id=worker_id, lease_token=task["lease_token"]
                )
                with history.lock:
                    history.completed.append(done)
    except BaseException as exc:
        history.errors.append(exc)


@pytest.mark.slow
def test_every_task_is_claimed_and_completed_exactly_once(live_server: LiveServer) -> None:
    history = History()
    produced = threading.Event()
    threads = [threading.Thread(target=_produce, args=(live_server.api_url, history, produced))]
    threads += [
        threading.Thread(
            target=_claim_until_empty,
            args=(live_server.api_url, f"worker-{n}", history, produced),
        )
        for n in range(CLAIMERS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=150)
    elapsed = time.monotonic() - started
    print(f"{TASKS} tasks created, claimed and completed in {elapsed:.1f} s")
    assert not any(thread.is_alive() for thread in threads)
    assert history.errors == []

    assert len(set(history.created)) == TASKS
    claims = Counter(task_id for task_id, _ in history.claimed)
    assert set(claims) == set(history.created)
    assert max(claims.values()) == 1
    completions = Counter(task["id"] for task in history.completed)
    assert set(completions) == set(history.created)
    assert max(completions.values()) == 1
    assert all(task["status"] == "completed" for task in history.completed)
    assert all(task["attempts"] == 1 for task in history.completed)
    assert len({worker for _, worker in history.claimed}) > 1

    with Client(live_server.api_url) as client:
        totals = client.stats()["totals"]
        workers = {w["worker_id"]: w for w in client.list_workers()}
    assert totals["completed"] == TASKS
    assert totals["pending"] == totals["processing"] == totals["failed"] == 0
    assert sum(w["tasks_completed"] for w in workers.values()) == TASKS
