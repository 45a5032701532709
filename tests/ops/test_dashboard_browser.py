"""The dashboard in a real browser against a real server, with an API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, start_server
from tests.ops.conftest import create_key, seed_every_state

STATUSES = ["pending", "processing", "completed", "failed", "cancelled"]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def keyed_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, str, dict[str, str]]]:
    """A server with an admin key, so that the dashboard must send one."""
    tmp_path = tmp_path_factory.mktemp("dashboard")
    db_url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    key = create_key(db_url, "admin")
    server = start_server(tmp_path, db_url)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.api_url, headers=headers, timeout=10) as client:
            ids = seed_every_state(client)
        yield server, key, ids
    finally:
        server.stop()


def _wait_loaded(page: Any, at_least: int = 1) -> None:
    page.wait_for_function(
        f"Number(document.body.dataset.loaded || 0) >= {at_least}", timeout=TIMEOUT_MS
    )


def test_dashboard_shows_the_api_numbers_filters_and_retries(
    keyed_server: tuple[LiveServer, str, dict[str, str]], browser: Any
) -> None:
    server, key, ids = keyed_server
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=10) as client:
        stats = client.get("/stats").json()
        failed = client.get("/tasks", params={"status": "failed"}).json()["tasks"]
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server.url + "/")
        # Without the key the API refuses, and the page says how to fix it.
        page.wait_for_selector("#error:not([hidden])")
        assert "API key" in page.inner_text("#error")
        page.fill("#api-key", key)
        page.click("#key-form button")
        _wait_loaded(page)
        assert page.is_hidden("#error")
        for status in STATUSES:
            assert page.inner_text(f"#total-{status}") == str(stats["totals"][status]), status
        # Failures first: the failed task and its error are at the top of the page.
        assert page.locator(f'#failures tr[data-task-id="{ids["failed"]}"]').count() == 1
        assert "boom: disk full" in page.inner_text("#failures")
        row = page.locator('#types tr[data-type="demo.a"]')
        assert row.locator('td[data-status="pending"]').inner_text() == "2"
        assert row.locator('td[data-status="cancelled"]').inner_text() == "1"
        assert page.get_attribute("#chart-completed", "data-total") == "1"
        assert page.get_attribute("#chart-failed", "data-total") == "1"
        assert page.locator("#chart-depth polyline").count() == 1

        page.goto(server.url + "/tasks")
        _wait_loaded(page)
        page.select_option("#filter-status", "failed")
        page.click("#filters button[type=submit]")
        page.wait_for_function(
            """n => {
              const rows = [...document.querySelectorAll('#task-list tbody tr[data-task-id]')];
              const failed = r => r.querySelector('.badge').dataset.status === 'failed';
              return rows.length === n && rows.every(failed);
            }""",
            arg=len(failed),
        )
        assert "status=failed" in page.url

        page.click(f'#task-list tr[data-task-id="{ids["failed"]}"] a')
        page.wait_for_selector('#task-status[data-status="failed"]')
        assert '"x": 1' in page.inner_text("#task-params")
        assert "boom: disk full" in page.inner_text("#task-error")
        events = page.locator("#task-history tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.event)"
        )
        assert events == ["created", "claimed", "failed"]
        page.click("#retry-task")
        page.wait_for_selector('#task-status[data-status="pending"]')
        assert page.is_hidden("#retry-task") and page.is_visible("#cancel-task")
    finally:
        page.close()
    with httpx.Client(base_url=server.api_url, headers=headers, timeout=10) as client:
        task = client.get(f"/tasks/{ids['failed']}").json()
        history = client.get(f"/tasks/{ids['failed']}/history").json()["events"]
    assert task["status"] == "pending" and task["attempts"] == 0
    assert history[-1]["event"] == "retried"


def test_workers_page_lists_workers_and_their_tasks(
    keyed_server: tuple[LiveServer, str, dict[str, str]], browser: Any
) -> None:
    server, key, ids = keyed_server
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server.url + "/workers")
        page.evaluate(f"localStorage.setItem('taskmanager.apiKey', {key!r})")
        page.reload()
        _wait_loaded(page)
        row = page.locator('#workers tr[data-worker-id="w-1"]')
        assert row.count() == 1
        assert row.locator(f'a[href$="{ids["processing"]}"]').count() == 1
        assert "ago" in row.inner_text()
    finally:
        page.close()
