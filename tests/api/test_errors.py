"""Every refusal is the documented error body with the documented code; never a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import assert_error, create, get

JSON = {"content-type": "application/json"}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CREATES = {
    "unknown field": {"type": "a", "colour": "red"},
    "missing type": {"params": {}},
    "type with a space": {"type": "bad name"},
    "type with a slash": {"type": "a/b"},
    "empty type": {"type": ""},
    "type too long": {"type": "x" * 201},
    "type not a string": {"type": 5},
    "params not an object": {"type": "a", "params": [1, 2]},
    "priority not an integer": {"type": "a", "priority": "high"},
    "priority too large": {"type": "a", "priority": 10**30},
    "max_attempts zero": {"type": "a", "max_attempts": 0},
    "negative delay": {"type": "a", "delay_seconds": -1},
    "both schedules": {"type": "a", "run_at": "2030-01-01T00:00:00Z", "delay_seconds": 5},
    "run_at not a date": {"type": "a", "run_at": "tomorrow"},
    "run_at out of range in UTC": {"type": "a", "run_at": "9999-12-31T23:59:59-05:00"},
    "run_at before year 1 in UTC": {"type": "a", "run_at": "0001-01-01T00:00:00+05:00"},
    "params nested 33 deep": {"type": "a", "params": {"x": nested(32)}},
    "empty idempotency key": {"type": "a", "idempotency_key": ""},
}


@pytest.mark.parametrize("body", BAD_CREATES.values(), ids=BAD_CREATES.keys())
def test_bad_create_is_422_and_creates_nothing(api: TestClient, body: dict[str, Any]) -> None:
    assert_error(api.post("/api/tasks", json=body), 422, "validation_error")
    assert api.get("/api/tasks").json()["tasks"] == []


def test_nesting_of_32_is_accepted(api: TestClient) -> None:
    task = create(api, params={"x": nested(31)})
    assert get(api, task["id"])["params"] == {"x": nested(31)}


def test_unknown_field_error_names_the_field(api: TestClient) -> None:
    body = assert_error(
        api.post("/api/tasks", json={"type": "a", "colour": 1}), 422, "validation_error"
    )
    assert "colour" in body["message"]
    assert body["details"]["errors"][0]["path"] == "colour"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_params_are_refused(api: TestClient, literal: str) -> None:
    raw = '{"type": "a", "params": {"x": ' + literal + "}}"
    assert_error(api.post("/api/tasks", content=raw, headers=JSON), 422, "validation_error")


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/api/tasks", '{"type": "a", "delay_seconds": NaN}'),
        ("/api/tasks/claim", '{"worker_id": "w", "wait_seconds": NaN}'),
        ("/api/tasks/claim", '{"worker_id": "w", "lease_seconds": Infinity}'),
        ("/api/tasks/x/heartbeat", '{"worker_id": "w", "lease_token": "t", "progress": NaN}'),
        ("/api/tasks/x/fail", '{"error": "e", "retry_delay_seconds": NaN}'),
        ("/api/tasks/x/complete", '{"result": {"x": NaN}}'),
    ],
)
def test_non_finite_numbers_anywhere_are_refused(api: TestClient, path: str, raw: str) -> None:
    assert_error(api.post(path, content=raw, headers=JSON), 422, "validation_error")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": ',
        b'{"type": "\xff\xfe"}',
        b"[" * 100_000 + b"]" * 100_000,
        b"",
        b"null",
        b"[1, 2]",
    ],
    ids=["truncated", "invalid utf-8", "nested 100000 deep", "empty", "null", "array"],
)
def test_unparseable_bodies_are_422(api: TestClient, raw: bytes) -> None:
    assert_error(api.post("/api/tasks", content=raw, headers=JSON), 422, "validation_error")


def test_batch_over_1000_is_refused(api: TestClient) -> None:
    response = api.post("/api/tasks/batch", json={"tasks": [{"type": "a"}] * 1001})
    assert_error(response, 422, "validation_error")
    assert api.get("/api/tasks").json()["tasks"] == []


def test_empty_batch_is_refused(api: TestClient) -> None:
    assert_error(api.post("/api/tasks/batch", json={"tasks": []}), 422, "validation_error")


BAD_CLAIMS = {
    "no worker id": {},
    "empty worker id": {"worker_id": ""},
    "unknown field": {"worker_id": "w", "types": ["a"]},
    "lease 0": {"worker_id": "w", "lease_seconds": 0},
    "lease over 12 h": {"worker_id": "w", "lease_seconds": 43201},
    "wait over 30": {"worker_id": "w", "wait_seconds": 31},
    "negative wait": {"worker_id": "w", "wait_seconds": -1},
    "bad type name": {"worker_id": "w", "task_types": ["no spaces"]},
    "types not a list": {"worker_id": "w", "task_types": "a"},
}


@pytest.mark.parametrize("body", BAD_CLAIMS.values(), ids=BAD_CLAIMS.keys())
def test_bad_claim_is_422_and_claims_nothing(api: TestClient, body: dict[str, Any]) -> None:
    task = create(api)
    assert_error(api.post("/api/tasks/claim", json=body), 422, "validation_error")
    assert get(api, task["id"])["status"] == "pending"


@pytest.mark.parametrize("limit", [0, 101, "ten"])
def test_claim_batch_limit_outside_1_to_100_is_refused(api: TestClient, limit: object) -> None:
    body = {"worker_id": "w", "limit": limit}
    assert_error(api.post("/api/tasks/claim/batch", json=body), 422, "validation_error")


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"type": "bad name"},
        {"limit": 0},
        {"limit": "many"},
        {"cursor": "not a cursor!"},
        {"cursor": cursor_of("x12")},
        {"cursor": cursor_of("s-1")},
        {"cursor": cursor_of("s" + "9" * 40)},
        {"cursor": ""},
    ],
    ids=lambda p: repr(p)[:40],
)
def test_bad_list_query_is_422(api: TestClient, params: dict[str, Any]) -> None:
    assert_error(api.get("/api/tasks", params=params), 422, "validation_error")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/tasks/x/heartbeat", {"worker_id": "w"}),
        ("/api/tasks/x/heartbeat", {"worker_id": "w", "lease_token": "t", "progress": 101}),
        ("/api/tasks/x/heartbeat", {"worker_id": "w", "lease_token": "t", "lease_seconds": 0.5}),
        ("/api/tasks/x/fail", {}),
        ("/api/tasks/x/fail", {"error": "e", "retry": "maybe"}),
        ("/api/tasks/x/fail", {"error": "e", "retry_delay_seconds": -1}),
        ("/api/tasks/x/complete", {"result": "not an object"}),
        ("/api/tasks/x/complete", {"outcome": "done"}),
        ("/api/tasks/complete/batch", {"worker_id": "w", "tasks": []}),
        ("/api/tasks/complete/batch", {"worker_id": "w", "tasks": [{"id": "x"}]}),
    ],
)
def test_bad_lease_calls_are_422(api: TestClient, path: str, body: dict[str, Any]) -> None:
    assert_error(api.post(path, json=body), 422, "validation_error")


BODIES = {"heartbeat": {"worker_id": "w", "lease_token": "t"}, "fail": {"error": "e"}}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks/nope"),
        ("POST", "/api/tasks/nope/heartbeat"),
        ("POST", "/api/tasks/nope/fail"),
        ("POST", "/api/tasks/nope/cancel"),
        ("POST", "/api/tasks/nope/retry"),
        ("GET", "/api/workers/nobody/stats"),
        ("GET", "/api/task-types/no.such.type"),
        ("GET", "/api/no-such-endpoint"),
        ("GET", "/nowhere"),
    ],
)
def test_unknown_things_are_404(api: TestClient, method: str, path: str) -> None:
    body = BODIES.get(path.rsplit("/", 1)[-1]) if method == "POST" else None
    assert_error(api.request(method, path, json=body), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/tasks"),
        ("PUT", "/api/tasks/claim"),
        ("GET", "/api/tasks/claim/batch"),
        ("POST", "/api/health"),
        ("DELETE", "/api/task-types/a"),
        ("POST", "/api/stats"),
    ],
)
def test_wrong_method_is_405(api: TestClient, method: str, path: str) -> None:
    assert_error(api.request(method, path), 405, "method_not_allowed")


def test_cancel_a_finished_task_is_invalid_state(api: TestClient) -> None:
    task = create(api)
    api.post(f"/api/tasks/{task['id']}/cancel")
    body = assert_error(api.post(f"/api/tasks/{task['id']}/cancel"), 409, "invalid_state")
    assert body["details"]["status"] == "cancelled"


def test_retry_a_pending_task_is_invalid_state(api: TestClient) -> None:
    task = create(api)
    assert_error(api.post(f"/api/tasks/{task['id']}/retry"), 409, "invalid_state")
    assert get(api, task["id"]) == task


def test_errors_carry_no_stack_trace(api: TestClient) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    response = api.post("/api/tasks", content=raw, headers=JSON)
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
