"""Scenario 7: the database crashes under load and comes back.

PostgreSQL (`pg_ctl stop -m immediate`) and MariaDB (`kill -9 mariadbd`) run as private servers
made for the test, so that the machine's shared ones are never touched; two API processes share
each. On SQLite the API process itself is killed during writes and started again. Producers
create with idempotency keys and retry; claimers complete. Afterwards every acknowledged write
is still there, exactly once; while the database was down the API said 503 `unavailable`, fast;
and the same API processes recovered by themselves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError
from tests.conftest import LiveServer, free_port
from tests.multiserver.conftest import QUIET
from tests.multiserver.history import History, check, final_states
from tests.multiserver.load import all_tasks, run_threads
from tests.multiserver.privatedb import PrivateDatabase, private_database

LEASE_SECONDS = 5.0  # a claim whose answer was lost in the crash comes back this soon
DOWN_SECONDS = 3.0
CONNECT_TIMEOUT = 2.0
API_ENV = {**QUIET, "TASKMANAGER_DB_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT)}


def serve(tmp_path: Path, db_url: str, port: int) -> LiveServer:
    """A `taskmanager serve` process on this port; waits until it answers."""
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    env = {**os.environ, **API_ENV, "TASKMANAGER_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        _until(lambda: _health(server)[0] == 200, 30, "the API did not start")
    except BaseException:
        server.stop()
        raise
    return server


def _health(server: LiveServer) -> tuple[int, float]:
    """The status of /api/health (0 when nothing answers) and how long the answer took."""
    started = time.monotonic()
    try:
        status = httpx.get(server.api_url + "/health", timeout=10).status_code
    except httpx.TransportError:
        status = 0
    return status, time.monotonic() - started


def _until(condition: Callable[[], bool], seconds: float, message: str) -> float:
    """Poll until `condition()`; the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, message
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def crashable(backend: str) -> Iterator[PrivateDatabase | None]:
    """A private database server of the backend, removed at the end (None on SQLite)."""
    if backend == "sqlite":
        yield None
        return
    database = private_database(backend)
    try:
        yield database
    finally:
        database.destroy()


class Load:
    """Producers that retry with idempotency keys, and claimers that complete what they get."""

    def __init__(self, history: History, urls: list[str]) -> None:
        self.history = history
        self.urls = urls
        self.stop_producing = threading.Event()
        self.stop_claiming = threading.Event()

    def produce(self, name: str, url: str) -> None:
        with Client(url, timeout=10) as client:
            for n in range(5000):
                if self.stop_producing.is_set():
                    return
                key = f"{name}-{n}"
                send = partial(client.create_task, "crash.item", {"n": n}, idempotency_key=key)
                self._until_acknowledged(send, name, key)
        raise AssertionError(f"{name} never stopped")

    def _until_acknowledged(self, send: Callable[[], dict[str, Any]], name: str, key: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                self.history.call("create", name, send, lambda t: [t["id"]], key=key)
                return
            except TaskManagerError:
                time.sleep(0.1)
        raise AssertionError(f"{key} was never acknowledged")

    def claim(self, worker_id: str, url: str) -> None:
        with Client(url, timeout=10) as client:
            for _ in range(100_000):
                if self.stop_claiming.is_set():
                    return
                try:
                    self._claim_one(client, worker_id)
                except TaskManagerError:
                    time.sleep(0.1)
        raise AssertionError(f"{worker_id} never stopped")

    def _claim_one(self, client: Client, worker_id: str) -> None:
        task = self.history.call(
            "claim",
            worker_id,
            partial(client.claim, worker_id, lease_seconds=LEASE_SECONDS, wait_seconds=0.5),
            lambda t: [] if t is None else [t["id"]],
        )
        if task is None:
            return
        token = task["lease_token"]
        with self.history.execution(worker_id, task["id"], token, LEASE_SECONDS, task):
            pass
        self.history.call(
            "complete",
            worker_id,
            partial(client.complete, task["id"], {}, worker_id=worker_id, lease_token=token),
            task_ids=(task["id"],),
            token=token,
        )

    def threads(self) -> list[Callable[[], None]]:
        producers = [partial(self.produce, f"p{n}", url) for n, url in enumerate(self.urls)]
        claimers = [partial(self.claim, f"w{n}", url) for n, url in enumerate(self.urls * 2)]
        return [*producers, *claimers]


def _answers_503_fast(server: LiveServer) -> dict[str, float]:
    """Health, a create and a claim while the database is down: each 503 `unavailable`."""
    took = {}
    status, took["health"] = _health(server)
    assert status == 503
    calls = {
        "create": ("tasks", {"type": "crash.probe"}),
        "claim": ("tasks/claim", {"worker_id": "probe", "wait_seconds": 0}),
    }
    for name, (path, body) in calls.items():
        started = time.monotonic()
        answer = httpx.post(f"{server.api_url}/{path}", json=body, timeout=15)
        took[name] = time.monotonic() - started
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "unavailable"
    # Not hanging: a refused or dead connection is reported within the connect timeout.
    assert max(took.values()) < CONNECT_TIMEOUT + 1.5, took
    return took


def _drain(load: Load, url: str, runner: threading.Thread) -> None:
    """Stop producing, let the claimers finish every task, then stop them."""
    load.stop_producing.set()

    def empty() -> bool:
        with Client(url) as client:
            totals = client.stats()["totals"]
        return bool(totals["pending"] == totals["processing"] == 0)

    _until(empty, 60, "the queue did not drain after the crash")
    load.stop_claiming.set()
    runner.join(timeout=30)
    assert not runner.is_alive()


def _check_history(history: History, url: str, since: float) -> None:
    with Client(url) as client:
        tasks = [task for task in all_tasks(client) if task["type"] == "crash.item"]
    report = check(history.events, final_states(tasks))
    print(f"{len(tasks)} tasks; {report}")
    assert report.lost == []
    assert report.unexpected == []
    assert report.completed_twice == []
    assert report.completion_lost == []
    assert report.created_twice == []
    assert report.unexplained_duplicates == []
    acknowledged = {tid for e in history.ok("create") for tid in e.task_ids}
    assert acknowledged <= {task["id"] for task in tasks}
    assert any(e.started_at > since for e in history.ok("create")), "no create after recovery"
    assert any(e.started_at > since for e in history.ok("complete")), "no work after recovery"
    for event in history.events:
        # Only refusals the API means: never a 500 nor a token that lost its lease wrongly.
        assert event.error is None or "internal server error" not in event.error, event


def _start_load(load: Load, errors: list[BaseException]) -> threading.Thread:
    runner = threading.Thread(
        target=lambda: errors.extend(run_threads(load.threads(), 150)), daemon=True
    )
    runner.start()
    return runner


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("backend", ["mariadb", "postgres"], indirect=True)
def test_scenario_7_database_crash_under_load(
    backend: str, crashable: PrivateDatabase | None, tmp_path: Path
) -> None:
    assert crashable is not None
    servers: list[LiveServer] = []
    try:
        servers += [serve(tmp_path, crashable.url, free_port()) for _ in range(2)]
        history, errors = History(), []
        load = Load(history, [server.api_url for server in servers])
        runner = _start_load(load, errors)
        time.sleep(1.5)
        crashed_at = time.monotonic()
        crashable.crash()
        time.sleep(0.3)
        took = [_answers_503_fast(server) for server in servers]
        time.sleep(max(0.0, crashed_at + DOWN_SECONDS - time.monotonic()))
        crashable.start()
        restarted_at = time.monotonic()
        recovery = [_until(lambda s=s: _health(s)[0] == 200, 30, "no recovery") for s in servers]
        print(f"\n{backend}: 503 answers while down {took}; recovered {recovery} s after restart")
        time.sleep(1.0)
        _drain(load, servers[0].api_url, runner)
        assert errors == []
        _check_history(history, servers[1].api_url, restarted_at)
        for event in history.events:
            # The API processes never stopped: every failure was an answer, not a lost connection.
            assert event.error is None or "cannot reach" not in event.error, event
        assert all(server.process.poll() is None for server in servers)
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_scenario_7_api_killed_during_sqlite_writes(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    servers = [serve(tmp_path, db_url, port)]
    try:
        history, errors = History(), []
        load = Load(history, [servers[0].api_url])
        runner = _start_load(load, errors)
        time.sleep(1.5)
        servers[0].process.kill()
        servers[0].process.wait(timeout=10)
        time.sleep(1.0)
        started = time.monotonic()
        servers.append(serve(tmp_path, db_url, port))
        restarted_at = time.monotonic()
        print(f"\nsqlite: API back {restarted_at - started:.2f} s after its restart")
        time.sleep(1.0)
        _drain(load, servers[-1].api_url, runner)
        assert errors == []
        _check_history(history, servers[-1].api_url, restarted_at)
    finally:
        for server in servers:
            server.stop()
