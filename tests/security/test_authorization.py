"""The authorization matrix: every endpoint x no key, malformed, unknown, revoked, each role."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.security.conftest import Keys, bearer

TASK = "00000000-0000-4000-8000-000000000000"
EVERYONE = {"producer", "worker", "admin"}
PRODUCE = {"producer", "admin"}
WORK = {"worker", "admin"}
ADMIN = {"admin"}

# (method, path template, concrete path, body, roles allowed)
MATRIX: list[tuple[str, str, str, Any, set[str]]] = [
    ("post", "/api/tasks", "/api/tasks", {"type": "a.b"}, PRODUCE),
    ("post", "/api/tasks/batch", "/api/tasks/batch", {"tasks": [{"type": "a.b"}]}, PRODUCE),
    ("get", "/api/tasks", "/api/tasks", None, EVERYONE),
    ("get", "/api/tasks/{task_id}", f"/api/tasks/{TASK}", None, EVERYONE),
    ("post", "/api/tasks/claim", "/api/tasks/claim", {"worker_id": "w"}, WORK),
    ("post", "/api/tasks/claim/batch", "/api/tasks/claim/batch", {"worker_id": "w"}, WORK),
    (
        "post",
        "/api/tasks/{task_id}/heartbeat",
        f"/api/tasks/{TASK}/heartbeat",
        {"worker_id": "w", "lease_token": "t"},
        WORK,
    ),
    (
        "post",
        "/api/tasks/{task_id}/complete",
        f"/api/tasks/{TASK}/complete",
        {"lease_token": "t"},
        WORK,
    ),
    (
        "post",
        "/api/tasks/{task_id}/fail",
        f"/api/tasks/{TASK}/fail",
        {"error": "e", "lease_token": "t"},
        WORK,
    ),
    (
        "post",
        "/api/tasks/complete/batch",
        "/api/tasks/complete/batch",
        {"worker_id": "w", "tasks": [{"id": TASK, "lease_token": "t"}]},
        WORK,
    ),
    ("post", "/api/tasks/{task_id}/cancel", f"/api/tasks/{TASK}/cancel", None, ADMIN),
    ("post", "/api/tasks/{task_id}/retry", f"/api/tasks/{TASK}/retry", None, ADMIN),
    ("get", "/api/workers", "/api/workers", None, EVERYONE),
    ("get", "/api/workers/{worker_id}/stats", "/api/workers/w/stats", None, EVERYONE),
    ("get", "/api/stats", "/api/stats", None, EVERYONE),
    ("put", "/api/task-types/{name}", "/api/task-types/a.b", {"description": "d"}, ADMIN),
    ("get", "/api/task-types", "/api/task-types", None, EVERYONE),
    ("get", "/api/task-types/{name}", "/api/task-types/a.b", None, EVERYONE),
    ("get", "/api/tasks/{task_id}/history", f"/api/tasks/{TASK}/history", None, EVERYONE),
    ("get", "/api/stats/overview", "/api/stats/overview", None, EVERYONE),
    ("get", "/api/stats/history", "/api/stats/history", None, EVERYONE),
]
OPEN = {("get", "/api/health"), ("get", "/metrics")}

CREDENTIALS = ["none", "malformed", "unknown", "revoked", "producer", "worker", "admin"]


def _headers(credential: str, keys: Keys) -> dict[str, str]:
    if credential == "none":
        return {}
    if credential == "malformed":
        return {"Authorization": f"Basic {keys.admin}"}
    if credential == "unknown":
        return {"X-API-Key": "tm_" + "x" * 43}
    key: str = getattr(keys, credential)
    return bearer(key)


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_each_endpoint_admits_exactly_its_roles(
    secured: TestClient, keys: Keys, credential: str
) -> None:
    wrong = []
    for method, template, path, body, allowed in MATRIX:
        response = secured.request(method, path, json=body, headers=_headers(credential, keys))
        if credential in allowed:
            ok = response.status_code not in (401, 403)
        elif credential in EVERYONE:
            ok = response.status_code == 403 and response.json()["error"] == "forbidden"
        else:
            ok = response.status_code == 401 and response.json()["error"] == "unauthorized"
        if not ok:
            wrong.append((method, template, response.status_code))
    assert wrong == []


def test_the_matrix_covers_every_endpoint(secured: TestClient) -> None:
    document = secured.get("/api/openapi.json").json()
    listed = {(m, p) for p, item in document["paths"].items() for m in item}
    assert listed - OPEN == {(method, template) for method, template, *_ in MATRIX}


def test_health_needs_no_key(secured: TestClient) -> None:
    assert secured.get("/api/health").status_code == 200


def test_keys_are_accepted_in_either_header(secured: TestClient, keys: Keys) -> None:
    assert secured.get("/api/tasks", headers=bearer(keys.producer)).status_code == 200
    assert secured.get("/api/tasks", headers={"X-API-Key": keys.producer}).status_code == 200


def _held_task(secured: TestClient, keys: Keys) -> dict[str, Any]:
    secured.post("/api/tasks", json={"type": "mail.send"}, headers=bearer(keys.producer))
    claimed = secured.post(
        "/api/tasks/claim", json={"worker_id": "w-a"}, headers=bearer(keys.worker)
    )
    task: dict[str, Any] = claimed.json()
    return task


def test_a_worker_cannot_complete_another_workers_lease(secured: TestClient, keys: Keys) -> None:
    task = _held_task(secured, keys)
    other = bearer(keys.other_worker)
    # Without the token, even naming the holder, a worker key is refused ...
    tokenless = secured.post(
        f"/api/tasks/{task['id']}/complete", json={"worker_id": "w-a"}, headers=other
    )
    assert tokenless.status_code == 403
    # ... and a guessed token is not the lease.
    guessed = secured.post(
        f"/api/tasks/{task['id']}/complete", json={"lease_token": "guess"}, headers=other
    )
    assert guessed.status_code == 409
    assert secured.get(f"/api/tasks/{task['id']}", headers=other).json()["status"] == "processing"
    # The holder, with its token, completes it.
    done = secured.post(
        f"/api/tasks/{task['id']}/complete",
        json={"lease_token": task["lease_token"], "result": {"ok": True}},
        headers=bearer(keys.worker),
    )
    assert done.status_code == 200


def test_a_revoked_key_stops_working(secured: TestClient, db_url: str, keys: Keys) -> None:
    from taskmanager.storage import open_store

    assert secured.get("/api/tasks", headers=bearer(keys.worker)).status_code == 200
    store = open_store(db_url)
    store.revoke_api_key("worker")
    store.close()
    refused = secured.get("/api/tasks", headers=bearer(keys.worker))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]


def test_metrics_are_open_unless_a_setting_asks_for_a_key(
    secured: TestClient, db_url: str, keys: Keys
) -> None:
    from taskmanager.server.app import create_app
    from taskmanager.server.settings import Settings

    assert secured.get("/metrics").status_code == 200
    settings = Settings(database_url=db_url, migrate_on_start=False, metrics_require_key=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as guarded:
        assert guarded.get("/metrics").status_code == 401
        assert guarded.get("/metrics", headers=bearer(keys.worker)).status_code == 200
