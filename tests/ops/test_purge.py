"""Retention: purge by age and status in batches; unfinished tasks are never touched."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.models import FailRequest, TaskCreate
from taskmanager.retention import PurgePlan, parse_duration, parse_statuses, purge
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.status import TaskStatus
from taskmanager.storage import SQLStore, TaskFilter, open_store

DONE = [TaskStatus.COMPLETED]


def _finish(
    store: SQLStore, completed: int, failed: int = 0, pending: int = 0, task_type: str = "r"
) -> None:
    """Make tasks: some completed, some failed, some left pending."""
    made = [TaskCreate(type=task_type, max_attempts=1) for _ in range(completed + failed)]
    store.create_tasks(made)
    for index, task in enumerate(store.claim("w", [task_type], None, completed + failed)):
        if index < completed:
            store.complete(task.id, {}, "w", task.lease_token)
        else:
            store.fail(task.id, FailRequest(error="x", lease_token=task.lease_token))
    store.create_tasks([TaskCreate(type=task_type) for _ in range(pending)])


def _count(store: SQLStore, status: TaskStatus) -> int:
    return len(store.list_tasks(TaskFilter(status=status), 500, None)[0])


def test_purge_deletes_old_finished_tasks_in_batches_and_keeps_counters(
    store: SQLStore, clock: ManualClock
) -> None:
    _finish(store, completed=5, failed=2, pending=2)
    clock.advance(3600)
    store.claim("w2", ["r"], None, 1)  # one processing, one pending
    _finish(store, completed=1, task_type="recent")  # kept
    before = store.metric_counts()
    cutoff = clock.now() - timedelta(minutes=30)
    assert store.count_purgeable(DONE, cutoff) == 5
    assert store.purge_batch(DONE, cutoff, 2) == 2
    batches: list[int] = []
    plan = PurgePlan(DONE, timedelta(minutes=30), batch_size=2)
    assert purge(store, plan, batches.append) == 3
    assert batches == [2, 3]
    assert _count(store, TaskStatus.COMPLETED) == 1
    assert _count(store, TaskStatus.FAILED) == 2
    assert _count(store, TaskStatus.PENDING) == 1
    assert _count(store, TaskStatus.PROCESSING) == 1
    after = store.metric_counts()
    assert (after.created, after.completed, after.failed) == (
        before.created,
        before.completed,
        before.failed,
    )
    assert purge(store, PurgePlan([TaskStatus.FAILED], timedelta(minutes=30))) == 2
    assert store.metric_counts().failed == before.failed


def test_purged_tasks_lose_their_history(store: SQLStore, clock: ManualClock) -> None:
    _finish(store, completed=1)
    (task,) = store.list_tasks(TaskFilter(status=TaskStatus.COMPLETED), 1, None)[0]
    assert [event.event for event in store.task_events(task.id)] == [
        "created",
        "claimed",
        "completed",
    ]
    clock.advance(60)
    assert store.purge_batch(DONE, clock.now(), 10) == 1
    with pytest.raises(Exception, match="no task"):
        store.task_events(task.id)


def test_unfinished_statuses_cannot_be_purged() -> None:
    with pytest.raises(ValueError, match="pending"):
        parse_statuses("completed,pending")
    assert parse_duration("30m") == timedelta(minutes=30)
    assert parse_duration("12h") == timedelta(hours=12)
    assert parse_duration("7d") == timedelta(days=7)
    with pytest.raises(ValueError):
        parse_duration("7 days")


def test_purge_command_counts_with_dry_run_then_deletes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("purge") / "purge.db"
    url = f"sqlite:///{path}"
    store = open_store(url, clock=ManualClock(datetime.now(UTC) - timedelta(days=2)))
    store.migrate()
    assert isinstance(store, SQLStore)
    _finish(store, completed=3, failed=1, pending=1)
    store.close()

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "taskmanager", "purge", "--database-url", url, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "would delete 4 tasks" in run(
        "--older-than", "1d", "--status", "completed", "--status", "failed", "--dry-run"
    )
    assert "would delete 0 tasks" in run("--older-than", "3d", "--dry-run")
    out = run("--older-than", "1d", "--status", "completed", "--batch-size", "2")
    assert "deleted 2 so far" in out and "deleted 3 tasks" in out
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskmanager",
            "purge",
            "--database-url",
            url,
            "--older-than",
            "1d",
            "--status",
            "pending",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "pending" in refused.stderr
    store = open_store(url)
    assert isinstance(store, SQLStore)
    assert _count(store, TaskStatus.FAILED) == 1 and _count(store, TaskStatus.PENDING) == 1
    store.close()


def test_background_purge_setting(
    tmp_path: Path, migrated_template: Path, clock: ManualClock
) -> None:
    # The purge SQL runs on every backend above; the background loop needs only one.
    shutil.copy(migrated_template, tmp_path / "purge.db")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/purge.db",
        migrate_on_start=False,
        purge_interval_minutes=0.002,
        purge_older_than="1m",
        purge_statuses="completed,cancelled",
        purge_batch_size=1,
    )
    with TestClient(create_app(settings, clock=clock)) as api:
        ids = [api.post("/api/tasks", json={"type": "bg"}).json()["id"] for _ in range(3)]
        claimed = api.post("/api/tasks/claim", json={"worker_id": "w"}).json()
        api.post(
            f"/api/tasks/{claimed['id']}/complete", json={"lease_token": claimed["lease_token"]}
        )
        api.post(f"/api/tasks/{ids[2]}/cancel")
        clock.advance(120)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = api.get("/api/tasks").json()["tasks"]
            if len(listed) == 1:
                break
            time.sleep(0.05)
        assert [task["id"] for task in listed] == [ids[1]]
        assert listed[0]["status"] == "pending"
