"""`taskmanager serve` as an operator runs it: fresh databases, shared files, crashes."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from taskmanager.client import Client
from taskmanager.errors import TaskManagerError
from taskmanager.server.settings import Settings
from tests.conftest import LiveServer, start_server


@pytest.fixture
def servers() -> Iterator[list[LiveServer]]:
    """Servers a test starts; every one is stopped at the end, whatever happened."""
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()


def test_serve_creates_and_migrates_a_fresh_database(
    tmp_path: Path, servers: list[LiveServer]
) -> None:
    path = tmp_path / "new" / "dir" / "tasks.db"
    servers.append(start_server(tmp_path, f"sqlite:///{path}"))
    health = httpx.get(servers[0].api_url + "/health", timeout=5).json()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with Client(servers[0].api_url) as client:
        task = client.create_task("example.echo", {"message": "first"})
        assert client.get_task(task["id"])["params"] == {"message": "first"}


def test_two_servers_share_one_file(tmp_path: Path, servers: list[LiveServer]) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    servers.append(start_server(tmp_path, url))
    servers.append(start_server(tmp_path, url))  # migrates the same file again: a no-op
    with Client(servers[0].api_url) as first, Client(servers[1].api_url) as second:
        task = first.create_task("example.echo", {"n": 1})
        claimed = second.claim("w-second")
        assert claimed is not None
        assert claimed["id"] == task["id"]
        done = first.complete(task["id"], {"ok": True}, lease_token=claimed["lease_token"])
        assert done["status"] == "completed"
        assert second.get_task(task["id"])["result"] == {"ok": True}
        assert second.claim("w-second") is None


@pytest.mark.slow
def test_acknowledged_tasks_survive_kill_9(tmp_path: Path, servers: list[LiveServer]) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    servers.append(start_server(tmp_path, url))
    acknowledged: list[str] = []
    stop = threading.Event()

    def produce() -> None:
        with Client(servers[0].api_url, timeout=5) as client:
            for n in range(5000):
                if stop.is_set():
                    return
                try:
                    acknowledged.append(client.create_task("example.echo", {"n": n})["id"])
                except TaskManagerError:
                    return  # the server is gone: what was acknowledged must survive

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        _wait_for(lambda: len(acknowledged) >= 200)
        servers[0].process.send_signal(signal.SIGKILL)
        servers[0].process.wait(timeout=10)
    finally:
        stop.set()
        producer.join(timeout=30)
    assert not producer.is_alive()
    assert servers[0].process.returncode == -signal.SIGKILL

    servers.append(start_server(tmp_path, url))
    with Client(servers[1].api_url) as client:
        stored = _all_ids(client)
        assert set(acknowledged) <= stored
        # At most the one request in flight at the kill may have committed unacknowledged.
        assert len(stored) - len(acknowledged) <= 1
        assert client.stats()["totals"]["pending"] == len(stored)


def _all_ids(client: Client) -> set[str]:
    ids: set[str] = set()
    cursor = None
    for _ in range(100):
        page = client.list_tasks(limit=500, cursor=cursor)
        ids.update(task["id"] for task in page["tasks"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("more pages than expected")


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


def test_serve_runs_one_process_on_sqlite_and_one_per_cpu_on_a_server(
    tmp_path: Path, db_url: str, servers: list[LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TASKMANAGER_PROCESSES")
    expected = Settings(database_url=db_url).server_processes()
    if db_url.startswith("sqlite"):
        assert expected == 1
    servers.append(start_server(tmp_path, db_url))
    plural = "process" if expected == 1 else "processes"
    deadline = time.monotonic() + 30
    while servers[0].log().count("Started server process") < expected:
        assert time.monotonic() < deadline, servers[0].log()
        time.sleep(0.1)
    log = servers[0].log()
    assert f", {expected} {plural})" in log
    time.sleep(0.5)  # no more come
    assert servers[0].log().count("Started server process") == expected
