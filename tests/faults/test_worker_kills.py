"""Scenario 3: kill -9 a random worker process every second or two while 3,000 tasks drain.

Four fault-worker processes (four claim threads each, batches of five, heartbeats on, a 3 s
lease) drain the queue; the tasks arrive in six chunks, and as each one drains, a worker that
holds some of them, picked at random, is killed with SIGKILL and a new one started, one kill
every 1 to 2 s. Every task must be completed exactly once, no two leases of one task may
overlap, and each task a killed worker held must be claimed again within its lease and 2 s of
the kill.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskmanager.client import Client
from tests.faults.tier import SCALE, scaled
from tests.faults.workers import WorkerPool, WorkerProcess, journal_events
from tests.multiserver.conftest import StartServers, server_count
from tests.multiserver.history import History, check, epoch, final_states
from tests.multiserver.load import all_tasks, create_in_batches

LEASE_SECONDS = 3.0
RECLAIM_GRACE_SECONDS = 2.0
PROCESSES, CONCURRENCY, HANDLER_SECONDS = 4, 4, 0.1
QUICK_POLLS = {"TASKMANAGER_LONG_POLL_RECHECK_SECONDS": "0.5"}


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[list[WorkerPool]]:
    pools: list[WorkerPool] = []
    try:
        yield pools
    finally:
        for each in pools:
            each.close()


def drained(client: Client) -> bool:
    totals = client.stats()["totals"]
    return bool(totals["pending"] == totals["processing"] == 0)


def kill_until_drained(
    workers: WorkerPool, client: Client, chunks: Sequence[Callable[[], None]], seconds: float
) -> list[tuple[WorkerProcess, float]]:
    """For each chunk of tasks: create it, kill a random worker that holds some of them with
    SIGKILL, start a new one; then wait for an empty queue.

    Only a worker with tasks in hand is a victim, so that every kill tests a re-claim however
    fast the machine drains a chunk.
    """
    rng = random.Random(8)
    kills: list[tuple[WorkerProcess, float]] = []
    deadline = time.monotonic() + seconds
    for chunk in chunks:
        chunk()
        time.sleep(rng.uniform(0.05, 0.2))
        victim = busy_worker(workers, rng)
        kills.append((victim, workers.kill(victim)))
        workers.start(CONCURRENCY, HANDLER_SECONDS)
        time.sleep(rng.uniform(1.0, 2.0))
    while time.monotonic() < deadline:
        if drained(client):
            return kills
        time.sleep(0.5)
    raise AssertionError(f"the queue did not drain in {seconds} s ({len(kills)} kills)")


def busy_worker(workers: WorkerPool, rng: random.Random) -> WorkerProcess:
    """A random live worker that holds at least one task, as soon as one does."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        busy = [worker for worker in workers.alive() if held_at_death(worker)]
        if busy:
            return rng.choice(busy)
        time.sleep(0.02)
    raise AssertionError("no worker took a task of the chunk within 10 s")


def reclaim_delays(
    kills: list[tuple[WorkerProcess, float]], api_url: str, final: dict[str, Any]
) -> list[float]:
    """For each task a killed worker held: seconds from the kill to its next claim.

    The claims are the API's own record (the task's history), not the journals: a worker
    killed as a claim's answer reached it leaves no line for a lease it did hold.
    """
    delays = []
    with httpx.Client(base_url=api_url, timeout=30) as http:
        for worker, killed_at in kills:
            for task_id, held_since, ended in held_at_death(worker):
                events = http.get(f"/tasks/{task_id}/history").json()["events"]
                claims = [epoch(e["at"]) for e in events if e["event"] == "claimed"]
                later = [at for at in claims if at > held_since]
                if later:
                    delays.append(min(later) - killed_at)
                else:  # its completion reached the API before the kill; only the answer was lost
                    assert ended and final[task_id].status == "completed", task_id
    return delays


def held_at_death(worker: WorkerProcess) -> list[tuple[str, float, bool]]:
    """(task, when its lease began on the API's clock, handler ended) of each lease the
    worker had not yet given back."""
    held: dict[str, tuple[str, float, bool]] = {}
    for event in journal_events(worker):
        token = event.token or ""
        if event.op == "claim" and event.outcome == "ok" and event.claimed_at is not None:
            held[token] = (event.task_ids[0], event.claimed_at, False)
        elif event.op == "handler_end" and token in held:
            task_id, since, _ = held[token]
            held[token] = (task_id, since, True)
        elif event.op == "complete" and event.outcome != "unknown":
            held.pop(token, None)
    return list(held.values())


@pytest.mark.slow
@pytest.mark.serial
def test_scenario_3_worker_processes_killed_while_draining(
    backend: str, start_servers: StartServers, pool: list[WorkerPool], tmp_path: Path
) -> None:
    servers = start_servers(server_count(backend), **QUICK_POLLS)
    urls = [server.api_url for server in servers]
    history, count = History(), scaled(3000)
    kills_wanted = scaled(6)
    items = [{"type": "kill.item", "params": {"n": n}, "max_attempts": 25} for n in range(count)]
    chunk = len(items) // kills_wanted
    chunks = [
        partial(create_in_batches, history, urls, items[n * chunk : (n + 1) * chunk])
        for n in range(kills_wanted)
    ]
    workers = WorkerPool(tmp_path, urls, LEASE_SECONDS)
    pool.append(workers)
    for _ in range(PROCESSES):
        workers.start(CONCURRENCY, HANDLER_SECONDS)
    with Client(urls[-1]) as client:
        kills = kill_until_drained(workers, client, chunks, 120 * SCALE)
        tasks = all_tasks(client)
    workers.close()
    events = history.events + [e for w in workers.started for e in journal_events(w)]
    final = final_states(tasks)
    report = check(events, final)
    delays = reclaim_delays(kills, urls[-1], final)
    print(f"\n{backend}: {count} tasks, {len(kills)} kills, {len(delays)} killed tasks "
          f"re-claimed after at most {max(delays, default=0):.2f} s; {report}")  # fmt: skip
    assert len(kills) >= kills_wanted
    assert sum(task["status"] == "completed" for task in tasks) == count
    # Re-claims and second runs are what a kill causes; each must be explained by it.
    assert report.lost == []
    assert report.unexpected == []
    assert report.completed_twice == []
    assert report.completion_lost == []
    assert report.lease_overlaps == []
    assert report.unexplained_duplicates == []
    late = [round(d, 2) for d in delays if d > LEASE_SECONDS + RECLAIM_GRACE_SECONDS]
    assert late == [], f"{len(late)} of {len(delays)} re-claims late: {late}"
    assert delays, "no kill caught a task in hand"
