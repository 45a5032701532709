"""Failing, backoff, dead letters, cancel and manual retry."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import (
    assert_error,
    claim,
    claim_one,
    complete,
    create,
    fail,
    get,
    instant,
)


def backoff_after(api: TestClient, clock: ManualClock, attempts_before: int) -> float:
    """Fail the next attempt and return how long until the task may run again."""
    task = claim_one(api)
    assert task["attempts"] == attempts_before + 1
    failed = fail(api, task, error=f"attempt {task['attempts']}").json()
    assert failed["status"] == "pending"
    delay = (instant(failed["run_at"]) - clock.now()).total_seconds()
    clock.advance(delay)
    return delay


def test_fail_with_retry_goes_back_to_pending_after_a_backoff(
    api: TestClient, clock: ManualClock
) -> None:
    create(api)
    task = claim_one(api)
    failed = fail(api, task, error="smtp down")
    assert failed.status_code == 200
    body = failed.json()
    assert (body["status"], body["error"], body["attempts"]) == ("pending", "smtp down", 1)
    assert body["worker_id"] is None and body["lease_expires_at"] is None
    delay = (instant(body["run_at"]) - clock.now()).total_seconds()
    assert 1.6 <= delay <= 2.4
    assert claim(api) is None
    clock.advance(delay)
    assert claim_one(api)["attempts"] == 2


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_backoff_doubles_within_jitter(api: TestClient, clock: ManualClock, attempt: int) -> None:
    create(api, max_attempts=10)
    for done in range(attempt - 1):
        backoff_after(api, clock, done)
    delay = backoff_after(api, clock, attempt - 1)
    expected = 2 * 2 ** (attempt - 1)
    assert expected * 0.8 <= delay <= expected * 1.2


def test_backoff_is_capped_at_an_hour(api: TestClient, clock: ManualClock) -> None:
    create(api, max_attempts=20)
    delays = [backoff_after(api, clock, done) for done in range(15)]
    assert max(delays) <= 3600
    assert all(delay >= 3600 * 0.8 for delay in delays[11:])


def test_retry_delay_seconds_overrides_the_backoff(api: TestClient, clock: ManualClock) -> None:
    create(api)
    task = claim_one(api)
    body = fail(api, task, retry_delay_seconds=300).json()
    assert (instant(body["run_at"]) - clock.now()).total_seconds() == 300


def test_retry_delay_zero_is_claimable_at_once(api: TestClient) -> None:
    create(api)
    fail(api, claim_one(api), retry_delay_seconds=0)
    assert claim_one(api)["attempts"] == 2


def test_fail_without_retry_is_final(api: TestClient, clock: ManualClock) -> None:
    create(api, max_attempts=5)
    task = claim_one(api)
    body = fail(api, task, error="bad input", retry=False).json()
    assert (body["status"], body["error"], body["attempts"]) == ("failed", "bad input", 1)
    assert instant(body["completed_at"]) == clock.now()
    assert claim(api) is None


def test_last_attempt_fails_for_good_keeping_the_last_error(
    api: TestClient, clock: ManualClock
) -> None:
    created = create(api, max_attempts=3)
    for attempt in range(1, 4):
        task = claim_one(api)
        body = fail(api, task, error=f"error {attempt}", retry_delay_seconds=0).json()
    assert (body["status"], body["attempts"], body["error"]) == ("failed", 3, "error 3")
    assert claim(api) is None
    failed = api.get("/api/tasks", params={"status": "failed"}).json()["tasks"]
    assert [t["id"] for t in failed] == [created["id"]]


def test_repeated_fail_from_the_same_holder_changes_nothing(api: TestClient) -> None:
    create(api, max_attempts=2)
    task = claim_one(api)
    first = fail(api, task, error="once")
    again = fail(api, task, error="once")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert api.get("/api/workers/w1/stats").json()["tasks_failed"] == 1


def test_default_max_attempts_comes_from_settings(make_api: object) -> None:
    api = make_api(default_max_attempts=1)  # type: ignore[operator]
    create(api)
    body = fail(api, claim_one(api)).json()
    assert (body["max_attempts"], body["status"]) == (1, "failed")


def test_manual_retry_resets_attempts(api: TestClient, clock: ManualClock) -> None:
    create(api, max_attempts=1)
    task = claim_one(api)
    fail(api, task, error="gone")
    clock.advance(10)
    retried = api.post(f"/api/tasks/{task['id']}/retry")
    assert retried.status_code == 200
    body = retried.json()
    assert (body["status"], body["attempts"], body["error"], body["worker_id"]) == (
        "pending",
        0,
        None,
        None,
    )
    assert instant(body["run_at"]) == clock.now()
    again = claim_one(api)
    assert (again["id"], again["attempts"]) == (task["id"], 1)


def test_cancel_a_pending_task(api: TestClient, clock: ManualClock) -> None:
    task = create(api)
    body = api.post(f"/api/tasks/{task['id']}/cancel").json()
    assert body["status"] == "cancelled"
    assert instant(body["completed_at"]) == clock.now()
    assert claim(api) is None


def test_cancel_a_processing_task_frees_no_lease(api: TestClient, clock: ManualClock) -> None:
    create(api)
    task = claim_one(api, lease_seconds=5)
    api.post(f"/api/tasks/{task['id']}/cancel")
    clock.advance(10)
    assert claim(api) is None
    assert get(api, task["id"])["status"] == "cancelled"


def test_retry_a_cancelled_task_makes_it_claimable(api: TestClient) -> None:
    task = create(api)
    api.post(f"/api/tasks/{task['id']}/cancel")
    assert api.post(f"/api/tasks/{task['id']}/retry").json()["status"] == "pending"
    assert claim_one(api)["id"] == task["id"]


@pytest.mark.parametrize("finish", ["complete", "fail"])
def test_cancel_a_finished_task_is_refused(api: TestClient, finish: str) -> None:
    create(api, max_attempts=1)
    task = claim_one(api)
    if finish == "complete":
        complete(api, task, result={})
    else:
        fail(api, task)
    before = get(api, task["id"])
    assert_error(api.post(f"/api/tasks/{task['id']}/cancel"), 409, "invalid_state")
    assert get(api, task["id"]) == before


@pytest.mark.parametrize("state", ["pending", "processing", "completed"])
def test_retry_of_a_task_that_did_not_fail_is_refused(api: TestClient, state: str) -> None:
    task = create(api)
    if state != "pending":
        task = claim_one(api)
    if state == "completed":
        complete(api, task, result={})
    assert_error(api.post(f"/api/tasks/{task['id']}/retry"), 409, "invalid_state")
    assert get(api, task["id"])["status"] == state
