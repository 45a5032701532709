"""Heartbeats extend leases; a lease that runs out gives the task back, or fails it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import (
    assert_error,
    claim,
    claim_one,
    complete,
    create,
    get,
    heartbeat,
    instant,
)


def test_heartbeat_extends_the_lease_from_now(api: TestClient, clock: ManualClock) -> None:
    create(api)
    task = claim_one(api)
    clock.advance(50)
    beat = heartbeat(api, task)
    assert beat.status_code == 200
    assert (instant(beat.json()["lease_expires_at"]) - clock.now()).total_seconds() == 60
    clock.advance(50)
    assert claim(api, "thief") is None


def test_heartbeat_records_progress_and_message(api: TestClient) -> None:
    create(api)
    task = claim_one(api)
    beat = heartbeat(api, task, progress=42.5, message="halfway", lease_seconds=120)
    assert beat.status_code == 200
    body = beat.json()
    assert (body["progress"], body["progress_message"]) == (42.5, "halfway")
    assert (instant(body["lease_expires_at"]) - instant(body["claimed_at"])).total_seconds() == 120
    stored = get(api, task["id"])
    assert (stored["progress"], stored["progress_message"]) == (42.5, "halfway")


def test_heartbeat_without_progress_keeps_the_last_one(api: TestClient) -> None:
    create(api)
    task = claim_one(api)
    heartbeat(api, task, progress=10, message="started")
    body = heartbeat(api, task).json()
    assert (body["progress"], body["progress_message"]) == (10, "started")


def test_heartbeat_on_unknown_task_is_404(api: TestClient) -> None:
    fake = {"id": "nope", "worker_id": "w", "lease_token": "t"}
    assert_error(heartbeat(api, fake), 404, "not_found")


def test_expired_lease_makes_the_task_claimable_again(api: TestClient, clock: ManualClock) -> None:
    created = create(api)
    first = claim_one(api, "dead", lease_seconds=10)
    clock.advance(9.9)
    assert claim(api, "other") is None
    clock.advance(0.1)
    second = claim_one(api, "other")
    assert second["id"] == created["id"]
    assert second["attempts"] == 2
    assert second["worker_id"] == "other"
    assert second["lease_token"] != first["lease_token"]


def test_expiry_of_the_last_attempt_fails_the_task(api: TestClient, clock: ManualClock) -> None:
    created = create(api, max_attempts=2)
    for _ in range(2):
        claim_one(api, "dead", lease_seconds=5)
        clock.advance(5)
    assert claim(api, "other") is None
    task = get(api, created["id"])
    assert task["status"] == "failed"
    assert task["attempts"] == 2
    assert "lease" in task["error"]
    assert instant(task["completed_at"]) == clock.now()
    assert task["lease_expires_at"] is None


def test_expired_task_is_pending_again_with_the_attempt_counted(
    api: TestClient, clock: ManualClock
) -> None:
    created = create(api, "slow", max_attempts=3)
    claim_one(api, lease_seconds=5)
    clock.advance(6)
    assert claim(api, task_types=["other"]) is None  # any claim takes expired leases back
    task = get(api, created["id"])
    assert (task["status"], task["attempts"], task["worker_id"]) == ("pending", 1, None)


def test_task_type_lease_applies_when_the_claim_names_none(api: TestClient) -> None:
    api.put("/api/task-types/video.encode", json={"lease_seconds": 600})
    create(api, "video.encode")
    task = claim_one(api)
    assert (instant(task["lease_expires_at"]) - instant(task["claimed_at"])).total_seconds() == 600
    body = heartbeat(api, task).json()
    assert (instant(body["lease_expires_at"]) - instant(body["claimed_at"])).total_seconds() == 600


def test_claim_lease_overrides_the_task_type_lease(api: TestClient) -> None:
    api.put("/api/task-types/video.encode", json={"lease_seconds": 600})
    create(api, "video.encode")
    task = claim_one(api, lease_seconds=30)
    assert (instant(task["lease_expires_at"]) - instant(task["claimed_at"])).total_seconds() == 30


def test_completed_task_never_expires(api: TestClient, clock: ManualClock) -> None:
    create(api)
    task = claim_one(api, lease_seconds=5)
    assert complete(api, task, result={"ok": True}).status_code == 200
    clock.advance(3600)
    assert claim(api, "other") is None
    assert get(api, task["id"])["status"] == "completed"


def test_a_heartbeat_without_a_length_renews_the_lease_the_claim_asked_for(
    api: TestClient, clock: ManualClock
) -> None:
    api.post("/api/tasks", json={"type": "short.lease"})
    task = api.post("/api/tasks/claim", json={"worker_id": "w", "lease_seconds": 2}).json()
    clock.advance(1)
    beat = api.post(
        f"/api/tasks/{task['id']}/heartbeat",
        json={"worker_id": "w", "lease_token": task["lease_token"]},
    ).json()
    # Two seconds from the heartbeat, as claimed; not the server's default of 60.
    assert beat["lease_expires_at"] == "2030-01-01T00:00:03Z"
