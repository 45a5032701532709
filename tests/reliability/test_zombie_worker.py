"""Scenario 4: a worker frozen past its lease comes back and finds every call refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer

LEASE_SECONDS = 2.0
ZOMBIE = Path(__file__).with_name("zombie_worker.py")
ROOT = Path(__file__).parents[2]


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def zombie(
    live_server: LiveServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    report = tmp_path / "zombie.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ZOMBIE), live_server.api_url, "zombie", str(LEASE_SECONDS)]
    process = subprocess.Popen([*command, str(report)], env=env)
    try:
        yield process, report
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(timeout=10)


@pytest.mark.slow
def test_stale_worker_cannot_touch_a_task_taken_over(
    live_server: LiveServer, zombie: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, report = zombie
    with Client(live_server.api_url) as client:
        task = client.create_task("example.echo", {"message": "once"})
        # Heartbeats keep the lease alive past its first term while the zombie still runs.
        _wait_for(lambda: sum(line["outcome"] == "ok" for line in _lines(report)) >= 6)
        assert client.claim("rescuer", wait_seconds=0) is None

        process.send_signal(signal.SIGSTOP)
        expires = _instant(client.get_task(task["id"])["lease_expires_at"])
        time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.1)
        taken = client.claim("rescuer", wait_seconds=5)
        assert taken is not None
        assert taken["id"] == task["id"]
        assert taken["attempts"] == 2
        done = client.complete(task["id"], {"by": "rescuer"}, lease_token=taken["lease_token"])
        assert done["status"] == "completed"

        process.send_signal(signal.SIGCONT)
        assert process.wait(timeout=30) == 0
        final = client.get_task(task["id"])

    lines = _lines(report)
    claimed = lines[0]
    assert claimed["call"] == "claim" and claimed["task"]["id"] == task["id"]
    after = lines[-3:]
    assert [line["call"] for line in after] == ["heartbeat", "complete", "fail"]
    assert [line["outcome"] for line in after] == ["lease_lost"] * 3
    assert all(line["outcome"] == "ok" for line in lines[1:-3])
    assert final["status"] == "completed"
    assert final["result"] == {"by": "rescuer"}
    assert final["worker_id"] == "rescuer"
    assert final["attempts"] == 2
    assert final["error"] is None
