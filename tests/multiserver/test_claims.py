"""Scenarios 1 and 2: many claimers over several API processes sharing one database.

Two API processes on MariaDB and PostgreSQL, one on SQLite. Each claimer has its own client,
bound to one of the processes; every call is recorded and the checker counts what went wrong.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from functools import partial
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer
from tests.multiserver.history import History, check, final_states
from tests.multiserver.load import (
    all_tasks,
    claim_one_at_a_time,
    create_in_batches,
    run_threads,
    task_ids,
)

CLAIMERS = 16


def _items(count: int) -> list[dict[str, Any]]:
    return [{"type": "load.item", "params": {"n": n}} for n in range(count)]


def _final_report(servers: list[LiveServer], history: History, count: int) -> dict[str, Any]:
    """Read every task back through the API and check the history against them."""
    with Client(servers[-1].api_url) as client:
        tasks = all_tasks(client)
        totals = client.stats()["totals"]
    report = check(history.events, final_states(tasks))
    assert report.anomalies() == {}, str(report)
    assert len(tasks) == count
    assert Counter(task["status"] for task in tasks) == {"completed": count}
    assert totals["completed"] == count
    return totals


def _claimer(history: History, url: str, worker_id: str, produced: threading.Event) -> None:
    with Client(url) as client:
        claim_one_at_a_time(history, client, worker_id, produced.is_set, 150)


@pytest.mark.slow
def test_scenario_1_every_task_runs_once_across_api_processes(
    servers: list[LiveServer], backend: str
) -> None:
    count = 3000
    history = History()
    urls = [server.api_url for server in servers]
    produced = threading.Event()

    def produce() -> None:
        try:
            create_in_batches(history, urls, _items(count), size=250)
        finally:
            produced.set()

    claimers = [
        partial(_claimer, history, urls[n % len(urls)], f"w{n}", produced) for n in range(CLAIMERS)
    ]
    started = time.monotonic()
    errors = run_threads([produce, *claimers], seconds=170)
    elapsed = time.monotonic() - started
    print(f"\n{backend}: {count} tasks over {len(urls)} API processes in {elapsed:.1f} s")
    print(f"{backend}: {count / elapsed:.0f} tasks/s created, claimed and completed")
    assert errors == []

    report = check(history.events)
    assert report.executions == count
    assert report.duplicate_executions == []
    assert len(history.ok("complete")) == count
    _final_report(servers, history, count)
    claimed_via = Counter(e.actor for e in history.ok("claim") if e.task_ids)
    assert len(claimed_via) > 1, "the work was not shared between claimers"


def _claim_batches(history: History, url: str, worker_id: str, seconds: float) -> None:
    """Claim up to 10 at a time, complete the batch at once; until a claim comes back empty."""
    deadline = time.monotonic() + seconds
    with Client(url) as client:
        while time.monotonic() < deadline:
            batch = history.call(
                "claim",
                worker_id,
                lambda: client.claim_batch(worker_id, 10, lease_seconds=120, wait_seconds=0.5),
                task_ids,
            )
            if not batch:
                return
            items = [{"id": t["id"], "lease_token": t["lease_token"], "result": {}} for t in batch]
            outcomes = history.call(
                "complete_batch",
                worker_id,
                partial(client.complete_batch, worker_id, items),
                lambda answer: [o["id"] for o in answer if o["outcome"] == "completed"],
            )
            assert [o["outcome"] for o in outcomes] == ["completed"] * len(batch)
    raise AssertionError(f"{worker_id} still had work after {seconds} s")


@pytest.mark.slow
def test_scenario_2_batch_claims_never_overlap_or_exceed_the_limit(
    servers: list[LiveServer], backend: str
) -> None:
    count = 15_000
    history = History()
    urls = [server.api_url for server in servers]
    started = time.monotonic()
    create_in_batches(history, urls, _items(count), size=1000)
    created_in = time.monotonic() - started
    claimers = [
        partial(_claim_batches, history, urls[n % len(urls)], f"b{n}", 150) for n in range(CLAIMERS)
    ]
    assert run_threads(claimers, seconds=170) == []
    elapsed = time.monotonic() - started
    print(f"\n{backend}: {count} tasks created in {created_in:.1f} s, all done in {elapsed:.1f} s")

    batches = [event.task_ids for event in history.ok("claim")]
    assert max(len(batch) for batch in batches) == 10
    claimed = Counter(task_id for batch in batches for task_id in batch)
    assert len(claimed) == count
    assert claimed.most_common(1)[0][1] == 1, "a task was handed out in two batches"
    completed = Counter(tid for e in history.ok("complete_batch") for tid in e.task_ids)
    assert len(completed) == count
    assert max(completed.values()) == 1
    _final_report(servers, history, count)
