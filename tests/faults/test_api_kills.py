"""Scenario 6: kill -9 an API process under load and start it again on the same port.

Producers create with idempotency keys and send again, with the same key, after any error or
timeout; claimers complete what they get. Two API processes share MariaDB and PostgreSQL and
one of them is killed at a time; SQLite has one. Every acknowledged task must exist exactly
once, and none may be lost.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer, free_port
from tests.faults.tier import scaled
from tests.multiserver.conftest import server_count
from tests.multiserver.history import History, check, final_states
from tests.multiserver.load import all_tasks, run_threads
from tests.multiserver.test_database_crash import Load, serve

BETWEEN_KILLS_SECONDS = 1.5


def drain(load: Load, url: str, runner: threading.Thread) -> None:
    """Stop producing, let the claimers finish every task, then stop them."""
    load.stop_producing.set()
    deadline = time.monotonic() + 60
    with Client(url) as client:
        while time.monotonic() < deadline:
            totals = client.stats()["totals"]
            if totals["pending"] == totals["processing"] == 0:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the queue did not drain after the kills")
    load.stop_claiming.set()
    runner.join(timeout=30)
    assert not runner.is_alive()


@pytest.mark.slow
@pytest.mark.serial
def test_scenario_6_api_killed_under_load(backend: str, db_url: str, tmp_path: Path) -> None:
    ports = [free_port() for _ in range(server_count(backend))]
    servers: list[LiveServer] = []
    try:
        servers += [serve(tmp_path, db_url, port) for port in ports]
        history, errors = History(), []
        load = Load(history, [server.api_url for server in servers])
        runner = threading.Thread(
            target=lambda: errors.extend(run_threads(load.threads(), 150)), daemon=True
        )
        runner.start()
        kills = scaled(2)
        for n in range(kills):
            time.sleep(BETWEEN_KILLS_SECONDS)
            victim = servers[n % len(ports)]
            victim.process.kill()
            victim.process.wait(timeout=10)
            time.sleep(0.5)
            servers.append(serve(tmp_path, db_url, ports[n % len(ports)]))
            servers[n % len(ports)] = servers[-1]
        restarted_at = time.monotonic()
        time.sleep(1.0)
        drain(load, servers[0].api_url, runner)
        assert errors == []
        with Client(servers[0].api_url) as client:
            tasks = [task for task in all_tasks(client) if task["type"] == "crash.item"]
    finally:
        for server in servers:
            server.stop()
    report = check(history.events, final_states(tasks))
    acknowledged = {tid for e in history.ok("create") for tid in e.task_ids}
    unknown = history.count("create", "unknown")
    print(f"\n{backend}: {len(tasks)} tasks, {kills} API kills, {unknown} creates retried "
          f"after an unknown outcome; {report}")  # fmt: skip
    assert acknowledged <= {task["id"] for task in tasks}
    assert report.created_twice == []
    assert report.lost == []
    assert report.unexpected == []
    assert report.completed_twice == []
    assert report.completion_lost == []
    assert report.unexplained_duplicates == []
    assert any(e.started_at > restarted_at for e in history.ok("create")), "no create after"
