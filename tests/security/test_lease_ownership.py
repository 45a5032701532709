"""A worker key acts only on leases it holds: heartbeat, complete, fail and batch complete."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.security.conftest import Keys, bearer


def _held_task(secured: TestClient, keys: Keys) -> dict[str, Any]:
    """A task leased by worker `w-a` with the worker key."""
    made = secured.post("/api/tasks", json={"type": "mail.send"}, headers=bearer(keys.producer))
    assert made.status_code == 201
    claimed = secured.post(
        "/api/tasks/claim", json={"worker_id": "w-a"}, headers=bearer(keys.worker)
    )
    task: dict[str, Any] = claimed.json()
    assert task["id"] == made.json()["id"]
    return task


# How another worker tries it: (path under the task, body, as the holder with this token).
ACTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "heartbeat": ("heartbeat", {"worker_id": "w-a"}),
    "complete": ("complete", {"worker_id": "w-a", "result": {"by": "other"}}),
    "fail": ("fail", {"worker_id": "w-a", "error": "by other"}),
}


def _attempt(
    secured: TestClient, keys: Keys, task: dict[str, Any], action: str, token: str | None
) -> Response:
    path, body = ACTIONS[action]
    if token is not None:
        body = {**body, "lease_token": token}
    return secured.post(
        f"/api/tasks/{task['id']}/{path}", json=body, headers=bearer(keys.other_worker)
    )


def _still_held(secured: TestClient, keys: Keys, task: dict[str, Any]) -> None:
    """Untouched: processing, one attempt, and its holder completes it with its token."""
    seen = secured.get(f"/api/tasks/{task['id']}", headers=bearer(keys.worker)).json()
    assert (seen["status"], seen["attempts"], seen["result"]) == ("processing", 1, None)
    done = secured.post(
        f"/api/tasks/{task['id']}/complete",
        json={"lease_token": task["lease_token"], "result": {"by": "holder"}},
        headers=bearer(keys.worker),
    )
    assert done.status_code == 200 and done.json()["result"] == {"by": "holder"}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_a_worker_cannot_act_on_another_workers_lease(
    secured: TestClient, keys: Keys, action: str
) -> None:
    task = _held_task(secured, keys)
    # Without the token, even naming the holder, a worker key is refused (the heartbeat's
    # body requires the token, so it is invalid there) ...
    tokenless = _attempt(secured, keys, task, action, None)
    assert tokenless.status_code == (422 if action == "heartbeat" else 403)
    # ... and a guessed token is not the lease.
    guessed = _attempt(secured, keys, task, action, "guess")
    assert guessed.status_code == 409 and guessed.json()["error"] == "lease_lost"
    _still_held(secured, keys, task)


def test_a_worker_cannot_batch_complete_another_workers_lease(
    secured: TestClient, keys: Keys
) -> None:
    task = _held_task(secured, keys)
    answer = secured.post(
        "/api/tasks/complete/batch",
        json={"worker_id": "w-a", "tasks": [{"id": task["id"], "lease_token": "guess"}]},
        headers=bearer(keys.other_worker),
    )
    assert answer.status_code == 200
    [outcome] = answer.json()["tasks"]
    assert outcome["outcome"] == "lease_lost" and outcome.get("task") is None
    _still_held(secured, keys, task)
