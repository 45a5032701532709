"""The authorization matrix: every endpoint x no key, malformed, unknown, revoked, each role."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.security.conftest import CREDENTIALS, ROLES, Keys, bearer, headers_for

TASK = "00000000-0000-4000-8000-000000000000"
EVERYONE = ROLES
PRODUCE = {"producer", "admin"}
WORK = {"worker", "admin"}
ADMIN = {"admin"}

# (method, path template, concrete path, body, roles allowed, status they get)
# The task id names no task, so calls on it pass authorization and then find nothing: 404.
MATRIX: list[tuple[str, str, str, Any, set[str], int]] = [
    ("post", "/api/tasks", "/api/tasks", {"type": "a.b"}, PRODUCE, 201),
    ("post", "/api/tasks/batch", "/api/tasks/batch", {"tasks": [{"type": "a.b"}]}, PRODUCE, 201),
    ("get", "/api/tasks", "/api/tasks", None, EVERYONE, 200),
    ("get", "/api/tasks/{task_id}", f"/api/tasks/{TASK}", None, EVERYONE, 404),
    ("post", "/api/tasks/claim", "/api/tasks/claim", {"worker_id": "w"}, WORK, 200),
    ("post", "/api/tasks/claim/batch", "/api/tasks/claim/batch", {"worker_id": "w"}, WORK, 200),
    (
        "post",
        "/api/tasks/{task_id}/heartbeat",
        f"/api/tasks/{TASK}/heartbeat",
        {"worker_id": "w", "lease_token": "t"},
        WORK,
        404,
    ),
    (
        "post",
        "/api/tasks/{task_id}/complete",
        f"/api/tasks/{TASK}/complete",
        {"lease_token": "t"},
        WORK,
        404,
    ),
    (
        "post",
        "/api/tasks/{task_id}/fail",
        f"/api/tasks/{TASK}/fail",
        {"error": "e", "lease_token": "t"},
        WORK,
        404,
    ),
    (
        "post",
        "/api/tasks/complete/batch",
        "/api/tasks/complete/batch",
        {"worker_id": "w", "tasks": [{"id": TASK, "lease_token": "t"}]},
        WORK,
        200,
    ),
    ("post", "/api/tasks/{task_id}/cancel", f"/api/tasks/{TASK}/cancel", None, ADMIN, 404),
    ("post", "/api/tasks/{task_id}/retry", f"/api/tasks/{TASK}/retry", None, ADMIN, 404),
    ("get", "/api/workers", "/api/workers", None, EVERYONE, 200),
    ("get", "/api/workers/{worker_id}/stats", "/api/workers/w/stats", None, EVERYONE, 200),
    ("get", "/api/stats", "/api/stats", None, EVERYONE, 200),
    ("put", "/api/task-types/{name}", "/api/task-types/a.b", {"description": "d"}, ADMIN, 200),
    ("get", "/api/task-types", "/api/task-types", None, EVERYONE, 200),
    ("get", "/api/task-types/{name}", "/api/task-types/a.b", None, EVERYONE, 200),
    ("get", "/api/tasks/{task_id}/history", f"/api/tasks/{TASK}/history", None, EVERYONE, 404),
    ("get", "/api/stats/overview", "/api/stats/overview", None, EVERYONE, 200),
    ("get", "/api/stats/history", "/api/stats/history", None, EVERYONE, 200),
    ("get", "/api/identity", "/api/identity", None, EVERYONE, 200),
]
OPEN = {("get", "/api/health"), ("get", "/metrics")}


def _seed(secured: TestClient, keys: Keys) -> None:
    """Worker `w` has been seen and type `a.b` exists, whichever caller goes first."""
    admin = bearer(keys.admin)
    assert secured.put("/api/task-types/a.b", json={}, headers=admin).status_code == 200
    assert secured.post("/api/tasks/claim", json={"worker_id": "w"}, headers=admin).is_success


def _verdict(credential: str, allowed: set[str], expected: int, response: Response) -> bool:
    """Allowed callers get the endpoint's own answer; the others exactly 403 or 401."""
    error = response.json().get("error") if response.status_code >= 400 else None
    if credential in allowed:
        return response.status_code == expected and error in (None, "not_found")
    if credential in ROLES:
        return response.status_code == 403 and error == "forbidden"
    return response.status_code == 401 and error == "unauthorized"


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_each_endpoint_admits_exactly_its_roles(
    secured: TestClient, keys: Keys, credential: str
) -> None:
    _seed(secured, keys)
    wrong = []
    for method, template, path, body, allowed, expected in MATRIX:
        response = secured.request(method, path, json=body, headers=headers_for(credential, keys))
        if not _verdict(credential, allowed, expected, response):
            wrong.append((method, template, response.status_code))
    assert wrong == []


def test_the_matrix_covers_every_endpoint(secured: TestClient) -> None:
    document = secured.get("/api/openapi.json").json()
    listed = {(m, p) for p, item in document["paths"].items() for m in item}
    assert listed - OPEN == {(method, template) for method, template, *_ in MATRIX}


def test_health_needs_no_key(secured: TestClient) -> None:
    assert secured.get("/api/health").status_code == 200


def test_identity_names_the_key_and_its_role(secured: TestClient, keys: Keys) -> None:
    for name in ("producer", "worker", "admin"):
        me = secured.get("/api/identity", headers=bearer(getattr(keys, name))).json()
        assert me == {"name": name, "role": name}


def test_keys_are_accepted_in_either_header(secured: TestClient, keys: Keys) -> None:
    assert secured.get("/api/tasks", headers=bearer(keys.producer)).status_code == 200
    assert secured.get("/api/tasks", headers={"X-API-Key": keys.producer}).status_code == 200


def test_a_revoked_key_stops_working(secured: TestClient, db_url: str, keys: Keys) -> None:
    from taskmanager.storage import open_store

    assert secured.get("/api/tasks", headers=bearer(keys.worker)).status_code == 200
    store = open_store(db_url)
    store.revoke_api_key("worker")
    store.close()
    refused = secured.get("/api/tasks", headers=bearer(keys.worker))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["message"]
