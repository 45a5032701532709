"""The busiest routes answer the same with their store call on the event loop or in a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import MakeApi

MODES = ["event-loop", "threads"]


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.mark.parametrize("mode", MODES)
def test_a_task_goes_through_every_worker_route(make_api: MakeApi, mode: str) -> None:
    api = make_api(store_calls=mode)
    one = _ok(api.post("/api/tasks", json={"type": "calls.one", "params": {"n": 1}}), 201)
    batch = _ok(api.post("/api/tasks/batch", json={"tasks": [{"type": "calls.many"}] * 3}), 201)
    assert _ok(api.get(f"/api/tasks/{one['id']}"))["params"] == {"n": 1}

    first = _ok(api.post("/api/tasks/claim", json={"worker_id": "w", "task_types": ["calls.one"]}))
    beat = {"worker_id": "w", "lease_token": first["lease_token"], "progress": 50}
    assert _ok(api.post(f"/api/tasks/{first['id']}/heartbeat", json=beat))["progress"] == 50
    failed = {"error": "try again", "lease_token": first["lease_token"], "retry": False}
    assert _ok(api.post(f"/api/tasks/{first['id']}/fail", json=failed))["status"] == "failed"

    body = {"worker_id": "w", "task_types": ["calls.many"], "limit": 10}
    held = _ok(api.post("/api/tasks/claim/batch", json=body))["tasks"]
    assert sorted(t["id"] for t in held) == sorted(t["id"] for t in batch["tasks"])
    last = held.pop()
    done = {"result": {"ok": True}, "lease_token": last["lease_token"], "worker_id": "w"}
    assert _ok(api.post(f"/api/tasks/{last['id']}/complete", json=done))["status"] == "completed"
    items = [{"id": t["id"], "lease_token": t["lease_token"], "result": {"n": 2}} for t in held]
    outcomes = _ok(api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": items}))
    assert [o["outcome"] for o in outcomes["tasks"]] == ["completed", "completed"]


@pytest.mark.parametrize("mode", MODES)
def test_errors_of_the_store_keep_their_answers(make_api: MakeApi, mode: str) -> None:
    api = make_api(store_calls=mode)
    missing = "00000000-0000-4000-8000-000000000000"
    assert _ok(api.get(f"/api/tasks/{missing}"), 404)["error"] == "not_found"
    stale = {"result": None, "lease_token": "x" * 32}
    assert api.post(f"/api/tasks/{missing}/complete", json=stale).status_code == 404


@pytest.mark.parametrize("mode", MODES)
def test_a_long_poll_is_answered_by_a_task_created_meanwhile(make_api: MakeApi, mode: str) -> None:
    api: TestClient = make_api(store_calls=mode, long_poll_recheck_seconds=30)
    answers: list[Any] = []
    body = {"worker_id": "w", "task_types": ["calls.later"], "wait_seconds": 20}
    waiter = threading.Thread(
        target=lambda: answers.append(api.post("/api/tasks/claim", json=body))
    )
    waiter.start()
    deadline = time.monotonic() + 10
    while api.app.state.waiters.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the claim waits
    assert api.app.state.waiters.waiting == 1
    created = _ok(api.post("/api/tasks", json={"type": "calls.later"}), 201)
    waiter.join(timeout=15)
    assert not waiter.is_alive(), "the waiting claim was not woken"
    assert _ok(answers[0])["id"] == created["id"]
