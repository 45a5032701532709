"""Scenario 10: random sequences of calls; after each, the database equals the model."""

from __future__ import annotations

import itertools
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.backends import empty_tables
from tests.reliability.queue_model import (
    ModelTask,
    QueueModel,
    Refused,
    backoff_window,
)

MAX_TASKS = 8
WORKERS = ("w1", "w2", "w3")
TOKEN_KINDS = ("current", "current", "stale", "holder", "intruder")
LEASES = st.sampled_from([None, 5.0, 30.0])
PRIORITIES = st.integers(-1, 1)
DELAYS = st.sampled_from([0, 0, 10, 90])
ATTEMPTS = st.integers(1, 3)


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


class FreshDatabase:
    """An empty, migrated database for each run of the machine, on the backend under test."""

    def __init__(self, template: Path, workdir: Path, server_url: str | None) -> None:
        self.template, self.workdir, self.server_url = template, workdir, server_url
        self.numbers = itertools.count()
        self.path: Path | None = None

    def make(self) -> str:
        if self.server_url is not None:
            empty_tables(self.server_url)
            return self.server_url
        self.path = self.workdir / f"model-{next(self.numbers)}.db"
        shutil.copy(self.template, self.path)
        return f"sqlite:///{self.path}"

    def remove(self) -> None:
        for suffix in ("", "-wal", "-shm") if self.path else ():
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class QueueMachine(RuleBasedStateMachine):
    """Drives the real app (in process, on an empty database, with a manual clock) and the
    model together."""

    def __init__(self, database: FreshDatabase) -> None:
        super().__init__()
        self.database = database
        self.clock = ManualClock()
        app = create_app(
            Settings(database_url=database.make(), migrate_on_start=False), clock=self.clock
        )
        self.api = TestClient(app, raise_server_exceptions=False)
        self.api.__enter__()
        self.model = QueueModel()

    def teardown(self) -> None:
        self.api.__exit__(None, None, None)
        self.database.remove()

    # -- helpers -------------------------------------------------------------------------------

    def _pick(self, data: st.DataObject, busy_first: bool = False) -> ModelTask:
        """A task; for calls a worker makes, as often as not one that some worker holds."""
        tasks = sorted(self.model.tasks.values(), key=lambda task: task.seq)
        busy = [task for task in tasks if task.status == "processing"]
        if busy_first and busy and data.draw(st.booleans(), label="busy"):
            tasks = busy
        return data.draw(st.sampled_from(tasks), label="task")

    def _call(self, path: str, body: dict[str, Any] | None, expect: Refused | None) -> Any:
        response = self.api.post(path, json=body)
        if expect is not None:
            assert response.status_code == 409, (path, response.json())
            assert response.json()["error"] == expect.code
            return None
        assert response.status_code == 200, (path, response.json())
        return response.json()

    @staticmethod
    def _credentials(task: ModelTask, kind: str) -> tuple[str | None, str | None]:
        """(worker_id, lease_token) for a call made by someone of this kind."""
        if kind == "current":
            return task.worker_id, task.token or "never-issued"
        if kind == "stale":
            return task.worker_id, task.old_tokens[-1] if task.old_tokens else "never-issued"
        if kind == "holder":
            return task.worker_id, None
        return "intruder", None

    # -- rules ---------------------------------------------------------------------------------

    @initialize(specs=st.lists(st.tuples(PRIORITIES, DELAYS, ATTEMPTS), min_size=2, max_size=4))
    def some_tasks(self, specs: list[tuple[int, int, int]]) -> None:
        for priority, delay, max_attempts in specs:
            self.create(priority, delay, max_attempts)

    @precondition(lambda self: len(self.model.tasks) < MAX_TASKS)
    @rule(priority=PRIORITIES, delay=DELAYS, max_attempts=ATTEMPTS)
    def create(self, priority: int, delay: int, max_attempts: int) -> None:
        body = {"type": "model.job", "priority": priority, "max_attempts": max_attempts}
        response = self.api.post("/api/tasks", json={**body, "delay_seconds": delay})
        assert response.status_code == 201, response.json()
        run_at = self.clock.now() + timedelta(seconds=delay)
        self.model.create(response.json()["id"], priority, max_attempts, run_at)

    @rule(worker=st.sampled_from(WORKERS), lease=LEASES)
    def claim(self, worker: str, lease: float | None) -> None:
        now = self.clock.now()
        self.model.expire_leases(now)
        expected = self.model.next_claim(now)
        body: dict[str, Any] = {"worker_id": worker}
        if lease is not None:
            body["lease_seconds"] = lease
        claimed = self._call("/api/tasks/claim", body, None)
        if expected is None:
            assert claimed is None
            return
        assert claimed is not None and claimed["id"] == expected.id
        assert _instant(claimed["claimed_at"]) == now
        self.model.claimed(expected, worker, claimed["lease_token"], now, lease)

    @precondition(lambda self: self.model.tasks)
    @rule(data=st.data(), stale=st.booleans(), lease=LEASES)
    def heartbeat(self, data: st.DataObject, stale: bool, lease: float | None) -> None:
        task = self._pick(data, busy_first=True)
        worker_id, token = self._credentials(task, "stale" if stale else "current")
        body: dict[str, Any] = {"worker_id": worker_id or "w1", "lease_token": token}
        if lease is not None:
            body["lease_seconds"] = lease
        try:
            self.model.heartbeat(
                task, body["worker_id"], body["lease_token"], self.clock.now(), lease
            )
        except Refused as refused:
            self._call(f"/api/tasks/{task.id}/heartbeat", body, refused)
        else:
            self._call(f"/api/tasks/{task.id}/heartbeat", body, None)

    @precondition(lambda self: self.model.tasks)
    @rule(data=st.data(), kind=st.sampled_from(TOKEN_KINDS), value=st.integers(0, 1))
    def complete(self, data: st.DataObject, kind: str, value: int) -> None:
        task = self._pick(data, busy_first=True)
        worker_id, token = self._credentials(task, kind)
        body = {"result": {"v": value}, "worker_id": worker_id, "lease_token": token}
        try:
            self.model.complete(task, {"v": value}, worker_id, token)
        except Refused as refused:
            self._call(f"/api/tasks/{task.id}/complete", body, refused)
        else:
            self._call(f"/api/tasks/{task.id}/complete", body, None)

    @precondition(lambda self: self.model.tasks)
    @rule(
        data=st.data(),
        kind=st.sampled_from(TOKEN_KINDS),
        error=st.sampled_from(["boom", "bang"]),
        retry=st.booleans(),
        delay=st.sampled_from([None, 7.0]),
    )
    def fail(
        self, data: st.DataObject, kind: str, error: str, retry: bool, delay: float | None
    ) -> None:
        task = self._pick(data, busy_first=True)
        worker_id, token = self._credentials(task, kind)
        body = {"error": error, "retry": retry, "worker_id": worker_id, "lease_token": token}
        if delay is not None:
            body["retry_delay_seconds"] = delay
        now, attempts = self.clock.now(), task.attempts
        try:
            back_to_pending = self.model.fail(task, error, retry, worker_id, token)
        except Refused as refused:
            self._call(f"/api/tasks/{task.id}/fail", body, refused)
            return
        answer = self._call(f"/api/tasks/{task.id}/fail", body, None)
        if back_to_pending:
            run_at = _instant(answer["run_at"])
            assert run_at is not None
            low, high = (delay, delay) if delay is not None else backoff_window(attempts)
            assert now + timedelta(seconds=low) <= run_at <= now + timedelta(seconds=high)
            task.run_at = run_at

    @precondition(lambda self: self.model.tasks)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        task = self._pick(data)
        try:
            self.model.cancel(task)
        except Refused as refused:
            self._call(f"/api/tasks/{task.id}/cancel", None, refused)
        else:
            self._call(f"/api/tasks/{task.id}/cancel", None, None)

    @precondition(lambda self: self.model.tasks)
    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        task = self._pick(data)
        try:
            self.model.retry(task, self.clock.now())
        except Refused as refused:
            self._call(f"/api/tasks/{task.id}/retry", None, refused)
        else:
            self._call(f"/api/tasks/{task.id}/retry", None, None)

    @rule(seconds=st.sampled_from([1, 4, 6, 31, 61, 200]))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @precondition(lambda self: self._held())
    @rule(data=st.data(), offset=st.sampled_from([-1, 0, 1]))
    def advance_to_a_lease_end(self, data: st.DataObject, offset: int) -> None:
        """Move the clock to a held lease's end, or a second either side: where it is decided
        whether the lease still fences its task. Plain steps rarely land there."""
        task = data.draw(st.sampled_from(self._held()), label="held")
        assert task.lease_expires_at is not None
        target = task.lease_expires_at + timedelta(seconds=offset)
        seconds = (target - self.clock.now()).total_seconds()
        if seconds > 0:
            self.clock.advance(seconds)

    def _held(self) -> list[ModelTask]:
        tasks = sorted(self.model.tasks.values(), key=lambda task: task.seq)
        return [t for t in tasks if t.status == "processing" and t.lease_expires_at is not None]

    # -- the check -----------------------------------------------------------------------------

    @invariant()
    def database_equals_model(self) -> None:
        for task in self.model.tasks.values():
            response = self.api.get(f"/api/tasks/{task.id}")
            assert response.status_code == 200
            stored = response.json()
            actual = {key: stored[key] for key in task.visible()}
            actual["run_at"] = _instant(actual["run_at"])
            actual["lease_expires_at"] = _instant(actual["lease_expires_at"])
            assert actual == task.visible(), task.id


def test_database_always_equals_the_model(
    backend: str, migrated_template: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    server_url = (
        None if backend == "sqlite" else request.getfixturevalue("server_databases")[backend]
    )
    database = FreshDatabase(migrated_template, tmp_path, server_url)
    run_state_machine_as_test(
        lambda: QueueMachine(database),
        settings=settings(
            max_examples=20,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
