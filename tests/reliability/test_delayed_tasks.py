"""Scenario 9: delayed tasks run on time, never early, with long-polling claimers."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from taskmanager.client import Client
from taskmanager.storage.reports import percentile
from tests.conftest import LiveServer

DELAYED = 60
SPREAD_SECONDS = 30.0
CLAIMERS = 4
STOP_TYPE = "test.stop"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _claimer(
    api_url: str, worker_id: str, claimed: list[dict[str, Any]], errors: list[BaseException]
) -> None:
    deadline = time.monotonic() + SPREAD_SECONDS + 30
    try:
        with Client(api_url) as client:
            while time.monotonic() < deadline:
                task = client.claim(worker_id, wait_seconds=30)
                if task is None:
                    continue
                client.complete(task["id"], {}, lease_token=task["lease_token"])
                if task["type"] == STOP_TYPE:
                    return
                claimed.append(task)
    except BaseException as exc:
        errors.append(exc)


@pytest.mark.slow
@pytest.mark.serial
def test_delayed_tasks_are_claimed_on_time(live_server: LiveServer) -> None:
    claimed: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_claimer, args=(live_server.api_url, f"w{n}", claimed, errors))
        for n in range(CLAIMERS)
    ]
    for thread in threads:
        thread.start()
    with Client(live_server.api_url) as client:
        try:
            step = SPREAD_SECONDS / DELAYED
            created = client.create_tasks(
                [
                    {"type": "job.later", "params": {"n": n}, "delay_seconds": step * (n + 1)}
                    for n in range(DELAYED)
                ]
            )
            deadline = time.monotonic() + SPREAD_SECONDS + 20
            while len(claimed) < DELAYED and time.monotonic() < deadline and not errors:
                time.sleep(0.2)
        finally:
            # Stop tasks wake the claimers from their long polls.
            client.create_tasks([{"type": STOP_TYPE} for _ in range(CLAIMERS)])
            for thread in threads:
                thread.join(timeout=40)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []

    assert sorted(task["id"] for task in claimed) == sorted(task["id"] for task in created)
    assert all(task["attempts"] == 1 for task in claimed)
    lateness = sorted(
        (_instant(task["claimed_at"]) - _instant(task["run_at"])).total_seconds()
        for task in claimed
    )
    print(
        f"lateness: min {lateness[0]:.3f}s p50 {percentile(lateness, 0.5):.3f}s "
        f"p99 {percentile(lateness, 0.99):.3f}s max {lateness[-1]:.3f}s"
    )
    assert lateness[0] >= 0, "a task was claimed before its run_at"
    p99 = percentile(lateness, 0.99)
    assert p99 is not None and p99 < 1.0
