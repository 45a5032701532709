"""The dashboard in a real browser against a real server, with an API key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer, start_server
from tests.ops.conftest import create_key, seed_every_state

STATUSES = ["pending", "processing", "completed", "failed", "cancelled"]
TIMEOUT_MS = 15_000


BUSY = 205  # processing tasks of one worker: more than one page of the task list


@pytest.fixture(scope="module")
def producer_key(keyed_server: tuple[LiveServer, str, dict[str, str]]) -> str:
    return keyed_server[2]["producer_key"]


@pytest.fixture(scope="module")
def keyed_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, str, dict[str, str]]]:
    """A server with an admin key, so that the dashboard must send one, and a busy worker."""
    tmp_path = tmp_path_factory.mktemp("dashboard")
    db_url = f"sqlite:///{tmp_path / 'dashboard.db'}"
    key = create_key(db_url, "admin")
    producer = create_key(db_url, "producer")
    server = start_server(tmp_path, db_url)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.api_url, headers=headers, timeout=10) as client:
            ids = seed_every_state(client)
            client.post("/tasks/batch", json={"tasks": [{"type": "demo.many"}] * BUSY})
            for _ in range(3):
                claim = {"worker_id": "w-busy", "task_types": ["demo.many"], "limit": 100}
                client.post("/tasks/claim/batch", json=claim).raise_for_status()
        yield server, key, {**ids, "producer_key": producer}
    finally:
        server.stop()


@contextmanager
def _open(browser: Any, server: LiveServer, key: str, path: str) -> Iterator[Any]:
    """A page of the dashboard with this key saved, loaded once; closed afterwards."""
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(server.url + path)
        page.evaluate(f"localStorage.setItem('taskmanager.apiKey', {key!r})")
        page.reload()
        _wait_loaded(page)
        yield page
    finally:
        page.close()


def _client(server: LiveServer, key: str) -> httpx.Client:
    """The API, as this key."""
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.Client(base_url=server.api_url, headers=headers, timeout=10)


def _listed(page: Any) -> list[str]:
    ids: list[str] = page.locator("#task-list tbody tr[data-task-id]").evaluate_all(
        "rows => rows.map(r => r.dataset.taskId)"
    )
    return ids


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
    with _open(browser, server, key, "/workers") as page:
        row = page.locator('#workers tr[data-worker-id="w-1"]')
        assert row.count() == 1
        assert row.locator(f'a[href$="{ids["processing"]}"]').count() == 1
        assert "ago" in row.inner_text()
        # A worker holding more than a page of tasks shows every one of them.
        busy = page.locator('#workers tr[data-worker-id="w-busy"]')
        assert busy.locator("a[href*='/tasks/']").count() == BUSY


def test_task_list_filters_by_type_and_pages(
    keyed_server: tuple[LiveServer, str, dict[str, str]], browser: Any
) -> None:
    server, key, _ = keyed_server
    with _client(server, key) as client:
        made = client.post("/tasks/batch", json={"tasks": [{"type": "page.me"}] * 25}).json()
    with _open(browser, server, key, "/tasks") as page:
        page.fill("#filter-type", "page.me")
        page.select_option("#filter-limit", "20")
        page.click("#filters button[type=submit]")
        page.wait_for_function(
            "() => document.querySelectorAll('#task-list tbody tr[data-task-id]').length === 20"
        )
        assert "type=page.me" in page.url
        first = _listed(page)
        assert set(page.locator("#task-list tbody td:nth-child(2)").all_inner_texts()) == {
            "page.me"
        }
        page.click("#page-older")
        page.wait_for_selector("#page-number:text('page 2')")
        second = _listed(page)
        assert len(second) == 5 and page.is_disabled("#page-older")
        assert sorted(first + second) == sorted(task["id"] for task in made["tasks"])
        page.click("#page-newer")
        page.wait_for_selector("#page-number:text('page 1')")
        assert _listed(page) == first


def test_cancel_from_the_task_page(
    keyed_server: tuple[LiveServer, str, dict[str, str]], browser: Any
) -> None:
    server, key, _ = keyed_server
    with _client(server, key) as client:
        task = client.post("/tasks", json={"type": "cancel.me"}).json()
    with _open(browser, server, key, f"/tasks/{task['id']}") as page:
        page.wait_for_selector('#task-status[data-status="pending"]')
        assert page.is_hidden("#retry-task")
        page.click("#cancel-task")
        page.wait_for_selector('#task-status[data-status="cancelled"]')
        assert page.is_hidden("#cancel-task") and page.is_visible("#retry-task")
    with _client(server, key) as client:
        assert client.get(f"/tasks/{task['id']}").json()["status"] == "cancelled"


def test_cancel_and_retry_are_shown_to_admin_keys_only(
    keyed_server: tuple[LiveServer, str, dict[str, str]], browser: Any, producer_key: str
) -> None:
    server, key, ids = keyed_server
    for task_id, button in ((ids["pending"], "#cancel-task"), (ids["cancelled"], "#retry-task")):
        with _open(browser, server, producer_key, f"/tasks/{task_id}") as page:
            assert page.is_hidden("#cancel-task") and page.is_hidden("#retry-task")
        with _open(browser, server, key, f"/tasks/{task_id}") as page:
            assert page.is_visible(button)
