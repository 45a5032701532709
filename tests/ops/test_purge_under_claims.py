"""The background purge deletes in small batches and never blocks claims (SQLite, real server)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from taskmanager.clock import ManualClock
from taskmanager.models import CompleteItem, TaskCreate
from taskmanager.status import TaskStatus
from taskmanager.storage import SQLStore, open_store
from tests.conftest import LiveServer, start_server

OLD = 2000
BATCH = 20
CLAIMERS = 3
PROGRESS = re.compile(r"purge: (\d+) deleted so far")


def _old_finished(db_url: str) -> SQLStore:
    """OLD tasks completed two days ago, made while the server runs; the store that made them."""
    store = open_store(db_url, clock=ManualClock(datetime.now(UTC) - timedelta(days=2)))
    assert isinstance(store, SQLStore)
    for _ in range(OLD // 1000):
        store.create_tasks([TaskCreate(type="old") for _ in range(1000)])
    while claimed := store.claim("archiver", ["old"], None, 100):
        done = [CompleteItem(id=task.id, lease_token=task.lease_token) for task in claimed]
        store.complete_many("archiver", done)
    return store


def _work(server: LiveServer, stop: threading.Event, answers: list[tuple[str, int, bool]]) -> None:
    """Create, claim and complete live tasks until told to stop, recording every answer."""
    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        while not stop.is_set():
            made = client.post("/tasks", json={"type": "live"})
            answers.append(("create", made.status_code, True))
            claim = client.post("/tasks/claim", json={"worker_id": "w", "task_types": ["live"]})
            task = claim.json() if claim.status_code == 200 else None
            answers.append(("claim", claim.status_code, task is not None))
            if task:
                body = {"lease_token": task["lease_token"]}
                done = client.post(f"/tasks/{task['id']}/complete", json=body)
                answers.append(("complete", done.status_code, True))


def _purge_done(store: SQLStore) -> bool:
    """No task finished before yesterday is left (the live ones finish now, and stay)."""
    cutoff = datetime.now(UTC) - timedelta(days=1)
    return store.count_purgeable([TaskStatus.COMPLETED], cutoff) == 0


def test_claims_keep_succeeding_while_the_background_purge_runs(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'purge.db'}"
    server = start_server(
        tmp_path,
        db_url,
        TASKMANAGER_PURGE_INTERVAL_MINUTES="0.005",
        TASKMANAGER_PURGE_OLDER_THAN="1d",
        TASKMANAGER_PURGE_BATCH_SIZE=str(BATCH),
        TASKMANAGER_LOG_LEVEL="debug",
    )
    stop = threading.Event()
    answers: list[tuple[str, int, bool]] = []
    workers = [
        threading.Thread(target=_work, args=(server, stop, answers)) for _ in range(CLAIMERS)
    ]
    try:
        for worker in workers:
            worker.start()
        store = _old_finished(db_url)
        deadline = time.monotonic() + 120
        while not (purged := _purge_done(store)) and time.monotonic() < deadline:
            time.sleep(0.2)
        store.close()
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)
        server.stop()
    log = server.log()
    lines = log.splitlines()
    # Everything the workers asked for was answered, and every claim found its task.
    assert answers and {status for _, status, _ in answers} <= {200, 201}
    assert all(found for _, _, found in answers)
    assert "database is locked" not in log and "Traceback" not in log
    # The purge deleted every old task, never more than a batch per transaction ...
    assert purged
    totals = [int(match.group(1)) for line in lines if (match := PROGRESS.search(line))]
    steps = [b - a if b > a else b for a, b in zip([0, *totals], totals, strict=False)]
    assert len(totals) >= OLD // BATCH and max(steps) <= BATCH
    # ... while claims were being answered between its batches.
    batch_lines = [n for n, line in enumerate(lines) if PROGRESS.search(line)]
    claims = [n for n, line in enumerate(lines) if "/api/tasks/claim" in line]
    assert any(batch_lines[0] < n < batch_lines[-1] for n in claims)
