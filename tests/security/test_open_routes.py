"""What needs no key: /api/health, the dashboard's page shells and static files, and
/metrics unless `metrics_require_key` is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.routes import dashboard
from taskmanager.server.settings import Settings
from tests.security.conftest import CREDENTIALS, ROLES, Keys, bearer, headers_for

TASK = "00000000-0000-4000-8000-000000000000"
PAGES = ["/", "/tasks", f"/tasks/{TASK}", "/workers"]
STATIC = ["/static/dashboard.js", "/static/dashboard.css"]


@pytest.fixture
def guarded(db_url: str, keys: Keys, clock: ManualClock) -> Iterator[TestClient]:
    """The app with `metrics_require_key` set."""
    settings = Settings(
        database_url=db_url, migrate_on_start=False, auth_cache_seconds=0, metrics_require_key=True
    )
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_metrics_asked_for_a_key_admit_every_role_and_no_one_else(
    guarded: TestClient, keys: Keys, credential: str
) -> None:
    answer = guarded.get("/metrics", headers=headers_for(credential, keys))
    if credential in ROLES:
        assert answer.status_code == 200 and "taskmanager_tasks" in answer.text
    else:
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_metrics_are_open_by_default(secured: TestClient, keys: Keys, credential: str) -> None:
    answer = secured.get("/metrics", headers=headers_for(credential, keys))
    assert answer.status_code == 200 and "taskmanager_tasks" in answer.text


def test_every_dashboard_page_is_checked() -> None:
    templates = {route.path for route in dashboard.router.routes}  # type: ignore[attr-defined]
    assert templates == {"/", "/tasks", "/tasks/{task_id}", "/workers"} and len(PAGES) == 4


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_dashboard_shells_need_no_key_and_hold_no_data(
    secured: TestClient, keys: Keys, credential: str
) -> None:
    # The pages are empty shells the script fills through the API with the saved key, so
    # they are served to anyone; what a task holds is not in them.
    made = secured.post(
        "/api/tasks",
        json={"type": "pay.out", "params": {"iban": "DE00SECRET"}},
        headers=bearer(keys.producer),
    ).json()
    for path in [*PAGES, f"/tasks/{made['id']}"]:
        page = secured.get(path, headers=headers_for(credential, keys))
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "DE00SECRET" not in page.text and "pay.out" not in page.text
    for path in STATIC:
        assert secured.get(path, headers=headers_for(credential, keys)).status_code == 200
