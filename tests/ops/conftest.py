"""Fixtures for the operations tests: a headless Chromium, and helpers to seed a live server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser build).

    Module-scoped: Playwright's sync API keeps an event loop running in the main thread while
    it is open, and later tests that call asyncio.run() must not find it there.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            "/usr/bin/chromium is not installed (apt-get install -y chromium; .ci/run does)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def create_key(db_url: str, role: str) -> str:
    """A new API key made with the CLI, straight in the database (migrated first)."""
    subprocess.run(
        [sys.executable, "-m", "taskmanager", "migrate", "--database-url", db_url],
        capture_output=True,
        timeout=60,
        check=True,
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "taskmanager",
            "keys",
            "create",
            "--role",
            role,
            "--name",
            role,
            "--json",
            "--database-url",
            db_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    key: str = json.loads(done.stdout)["key"]
    return key


def seed_every_state(client: httpx.Client) -> dict[str, str]:
    """One task or more in each status; returns the id of the task in each."""

    def create(**body: Any) -> dict[str, Any]:
        answer = client.post("/tasks", json=body)
        assert answer.status_code == 201, answer.text
        made: dict[str, Any] = answer.json()
        return made

    def claim(task_type: str) -> dict[str, Any]:
        answer = client.post("/tasks/claim", json={"worker_id": "w-1", "task_types": [task_type]})
        assert answer.status_code == 200 and answer.json(), answer.text
        claimed: dict[str, Any] = answer.json()
        return claimed

    ids = {"pending": create(type="demo.a")["id"]}
    create(type="demo.a")
    create(type="demo.b", params={"n": 1})
    done = create(type="demo.done")
    task = claim("demo.done")
    assert task["id"] == done["id"]
    client.post(
        f"/tasks/{task['id']}/complete",
        json={"lease_token": task["lease_token"], "result": {"ok": True}},
    ).raise_for_status()
    ids["completed"] = task["id"]
    doomed = create(type="demo.doomed", params={"x": 1}, max_attempts=1)
    task = claim("demo.doomed")
    client.post(
        f"/tasks/{doomed['id']}/fail",
        json={"lease_token": task["lease_token"], "error": "boom: disk full"},
    ).raise_for_status()
    ids["failed"] = doomed["id"]
    busy = create(type="demo.busy")
    claim("demo.busy")
    ids["processing"] = busy["id"]
    gone = create(type="demo.a")
    client.post(f"/tasks/{gone['id']}/cancel").raise_for_status()
    ids["cancelled"] = gone["id"]
    return ids
