"""Small helpers for API tests: create, claim, and check an error body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

ERROR_KEYS = {"error", "message", "details"}


def create(api: TestClient, type_: str = "example.echo", **fields: Any) -> dict[str, Any]:
    """Create one task and return it; the create must answer 201."""
    response = api.post("/api/tasks", json={"type": type_, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def claim(api: TestClient, worker_id: str = "w1", **fields: Any) -> dict[str, Any] | None:
    """Claim at most one task; None when there is none."""
    response = api.post("/api/tasks/claim", json={"worker_id": worker_id, **fields})
    assert response.status_code == 200, response.text
    body: dict[str, Any] | None = response.json()
    return body


def claim_one(api: TestClient, worker_id: str = "w1", **fields: Any) -> dict[str, Any]:
    """Claim a task that must be there."""
    task = claim(api, worker_id, **fields)
    assert task is not None, "expected a claimable task"
    return task


def get(api: TestClient, task_id: str) -> dict[str, Any]:
    response = api.get(f"/api/tasks/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def complete(api: TestClient, task: dict[str, Any], **fields: Any) -> httpx.Response:
    """Complete a claimed task with its own worker id and token unless told otherwise."""
    body = {"worker_id": task["worker_id"], "lease_token": task["lease_token"], **fields}
    return api.post(f"/api/tasks/{task['id']}/complete", json=body)


def fail(
    api: TestClient, task: dict[str, Any], error: str = "boom", **fields: Any
) -> httpx.Response:
    body = {"error": error, "lease_token": task["lease_token"], **fields}
    return api.post(f"/api/tasks/{task['id']}/fail", json=body)


def heartbeat(api: TestClient, task: dict[str, Any], **fields: Any) -> httpx.Response:
    body = {"worker_id": task["worker_id"], "lease_token": task["lease_token"], **fields}
    return api.post(f"/api/tasks/{task['id']}/heartbeat", json=body)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is the documented error body with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ERROR_KEYS
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def instant(text: str) -> datetime:
    """Parse a wire instant, which must be UTC and end in Z."""
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


def seconds_between(later: str, earlier: str) -> float:
    return (instant(later) - instant(earlier)).total_seconds()
