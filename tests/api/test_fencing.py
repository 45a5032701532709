"""Fencing: only the current holder of the current attempt may heartbeat, complete, fail."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import (
    assert_error,
    claim_one,
    complete,
    create,
    fail,
    get,
    heartbeat,
)

Call = str  # "heartbeat", "complete" or "fail"


def call(api: TestClient, kind: Call, task: dict[str, Any], **fields: Any) -> Any:
    if kind == "heartbeat":
        return heartbeat(api, task, **fields)
    if kind == "complete":
        return complete(api, task, result={"by": "stale"}, **fields)
    return fail(api, task, **fields)


def claimed(api: TestClient, worker: str = "w1", **fields: Any) -> dict[str, Any]:
    create(api, **fields)
    return claim_one(api, worker)


@pytest.mark.parametrize("kind", ["heartbeat", "complete", "fail"])
def test_wrong_token_is_lease_lost_and_changes_nothing(api: TestClient, kind: Call) -> None:
    task = claimed(api)
    before = get(api, task["id"])
    response = call(api, kind, {**task, "lease_token": "not-the-token"})
    assert_error(response, 409, "lease_lost")
    assert get(api, task["id"]) == before


@pytest.mark.parametrize("kind", ["heartbeat", "complete", "fail"])
def test_zombie_after_reclaim_is_refused_and_the_first_result_stays(
    api: TestClient, clock: ManualClock, kind: Call
) -> None:
    zombie = claimed(api, "zombie")
    clock.advance(61)
    fresh = claim_one(api, "fresh")
    assert complete(api, fresh, result={"by": "fresh"}).status_code == 200
    assert_error(call(api, kind, zombie), 409, "lease_lost")
    task = get(api, zombie["id"])
    assert (task["status"], task["result"], task["worker_id"]) == (
        "completed",
        {"by": "fresh"},
        "fresh",
    )


@pytest.mark.parametrize("kind", ["heartbeat", "complete", "fail"])
def test_zombie_while_the_new_holder_works_changes_nothing(
    api: TestClient, clock: ManualClock, kind: Call
) -> None:
    zombie = claimed(api, "zombie")
    clock.advance(61)
    fresh = claim_one(api, "fresh")
    before = get(api, fresh["id"])
    assert_error(call(api, kind, zombie), 409, "lease_lost")
    assert get(api, fresh["id"]) == before
    assert complete(api, fresh, result={"ok": 1}).status_code == 200


def test_stale_token_of_an_expired_lease_is_refused(api: TestClient, clock: ManualClock) -> None:
    task = claimed(api)
    clock.advance(61)
    claim_one(api, "w1")  # same worker, new attempt, new token
    assert_error(complete(api, task, result={}), 409, "lease_lost")


def test_tokenless_complete_by_another_worker_is_refused(api: TestClient) -> None:
    task = claimed(api, "owner")
    body = {"worker_id": "intruder", "result": {"x": 1}}
    assert_error(api.post(f"/api/tasks/{task['id']}/complete", json=body), 409, "lease_lost")
    assert get(api, task["id"])["status"] == "processing"


def test_tokenless_fail_by_another_worker_is_refused(api: TestClient) -> None:
    task = claimed(api, "owner")
    body = {"worker_id": "intruder", "error": "no"}
    assert_error(api.post(f"/api/tasks/{task['id']}/fail", json=body), 409, "lease_lost")
    assert get(api, task["id"])["status"] == "processing"


def test_tokenless_complete_by_the_holder_succeeds(api: TestClient) -> None:
    task = claimed(api, "owner")
    body = {"worker_id": "owner", "result": {"x": 1}}
    response = api.post(f"/api/tasks/{task['id']}/complete", json=body)
    assert response.status_code == 200
    assert response.json()["result"] == {"x": 1}


def test_tokenless_complete_of_a_pending_task_is_refused(api: TestClient) -> None:
    task = create(api)
    response = api.post(f"/api/tasks/{task['id']}/complete", json={"result": {}})
    assert_error(response, 409, "lease_lost")
    assert get(api, task["id"])["status"] == "pending"


def test_tokenless_complete_after_expiry_and_reclaim_is_refused(
    api: TestClient, clock: ManualClock
) -> None:
    task = claimed(api, "slow")
    clock.advance(61)
    claim_one(api, "fast")
    body = {"worker_id": "slow", "result": {}}
    assert_error(api.post(f"/api/tasks/{task['id']}/complete", json=body), 409, "lease_lost")


def test_second_identical_complete_answers_200_and_changes_nothing(
    api: TestClient, clock: ManualClock
) -> None:
    task = claimed(api)
    first = complete(api, task, result={"n": 1})
    clock.advance(5)
    again = complete(api, task, result={"n": 1})
    assert again.status_code == 200
    assert again.json() == first.json()
    stats = api.get("/api/workers/w1/stats").json()
    assert stats["tasks_completed"] == 1


def test_complete_again_with_another_result_is_invalid_state(api: TestClient) -> None:
    task = claimed(api)
    complete(api, task, result={"n": 1})
    assert_error(complete(api, task, result={"n": 2}), 409, "invalid_state")
    assert get(api, task["id"])["result"] == {"n": 1}


def test_complete_records_result_and_time(api: TestClient, clock: ManualClock) -> None:
    task = claimed(api)
    clock.advance(3)
    done = complete(api, task, result={"answer": 42}).json()
    assert done["status"] == "completed"
    assert done["result"] == {"answer": 42}
    assert done["completed_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert done["lease_expires_at"] is None


def test_complete_without_result_stores_null(api: TestClient) -> None:
    task = claimed(api)
    response = api.post(
        f"/api/tasks/{task['id']}/complete", json={"lease_token": task["lease_token"]}
    )
    assert response.status_code == 200
    assert response.json()["result"] is None


def test_complete_unknown_task_is_404(api: TestClient) -> None:
    assert_error(api.post("/api/tasks/nope/complete", json={}), 404, "not_found")


@pytest.mark.parametrize("kind", ["heartbeat", "complete", "fail"])
def test_holder_of_a_cancelled_task_is_told_so(api: TestClient, kind: Call) -> None:
    task = claimed(api)
    assert api.post(f"/api/tasks/{task['id']}/cancel").status_code == 200
    assert_error(call(api, kind, task), 409, "task_cancelled")
    after = get(api, task["id"])
    assert (after["status"], after["result"]) == ("cancelled", None)


def test_cancelled_task_with_a_wrong_token_is_lease_lost(api: TestClient) -> None:
    task = claimed(api)
    api.post(f"/api/tasks/{task['id']}/cancel")
    assert_error(heartbeat(api, {**task, "lease_token": "bad"}), 409, "lease_lost")
