"""The NUL character: refused by name in every string field, kept as is inside JSON."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import claim_one, complete, create, fail, get, heartbeat

NUL = "\u0000"


def _refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["details"]["errors"][0]["path"] == field, body


BODIES = [
    ("/api/tasks", {"type": "a.b", "idempotency_key": f"k{NUL}"}, "idempotency_key"),
    ("/api/tasks", {"type": f"a{NUL}b"}, "type"),
    (
        "/api/tasks/batch",
        {"tasks": [{"type": "a.b", "idempotency_key": NUL}]},
        "tasks.0.idempotency_key",
    ),
    ("/api/tasks/claim", {"worker_id": f"w{NUL}"}, "worker_id"),
    ("/api/tasks/claim", {"worker_id": "w", "task_types": [f"a{NUL}"]}, "task_types.0"),
    (
        "/api/tasks/complete/batch",
        {"worker_id": "w", "tasks": [{"id": f"x{NUL}", "lease_token": "t"}]},
        "tasks.0.id",
    ),
]


@pytest.mark.parametrize(("path", "body", "field"), BODIES, ids=[b[2] for b in BODIES])
def test_nul_in_a_request_field_is_422_naming_it(
    api: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    _refused(api.post(path, json=body), field)


def test_nul_in_what_a_worker_reports_is_422_naming_it(api: TestClient) -> None:
    create(api)
    task = claim_one(api)
    _refused(heartbeat(api, task, message=f"half{NUL}way"), "message")
    _refused(heartbeat(api, task, lease_token=f"t{NUL}"), "lease_token")
    _refused(fail(api, task, f"bad{NUL}byte"), "error")
    _refused(complete(api, task, worker_id=f"w{NUL}"), "worker_id")
    assert get(api, task["id"])["status"] == "processing"


def test_nul_in_a_description_is_422(api: TestClient) -> None:
    response = api.put("/api/task-types/a.b", json={"description": f"x{NUL}"})
    _refused(response, "description")


@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("GET", "/api/tasks/x%00y", "path.task_id"),
        ("POST", "/api/tasks/x%00y/cancel", "path.task_id"),
        ("POST", "/api/tasks/x%00y/retry", "path.task_id"),
        ("GET", "/api/tasks/x%00y/history", "path.task_id"),
        ("GET", "/api/workers/w%00/stats", "path.worker_id"),
        ("GET", "/api/tasks?worker_id=w%00", "query.worker_id"),
    ],
)
def test_nul_in_a_path_or_query_is_422_naming_it(
    api: TestClient, method: str, url: str, field: str
) -> None:
    _refused(api.request(method, url), field)


def test_nul_inside_params_and_results_is_kept_as_sent(api: TestClient) -> None:
    params = {f"key{NUL}": [f"a{NUL}b", {"deep": NUL}]}
    created = create(api, params=params)
    task = claim_one(api)
    assert complete(api, task, result={"out": f"{NUL}x"}).status_code == 200
    stored = get(api, created["id"])
    assert stored["params"] == params
    assert stored["result"] == {"out": f"{NUL}x"}
