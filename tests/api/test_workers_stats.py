"""Workers and queue statistics, as an operator reads them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import assert_error, claim_one, complete, create, fail, heartbeat, instant


def test_no_workers_at_first(api: TestClient) -> None:
    assert api.get("/api/workers").json() == {"workers": []}


def test_a_claim_makes_a_worker_seen_even_with_nothing_to_do(
    api: TestClient, clock: ManualClock
) -> None:
    api.post("/api/tasks/claim", json={"worker_id": "idle"})
    (worker,) = api.get("/api/workers").json()["workers"]
    assert worker["worker_id"] == "idle"
    assert instant(worker["last_seen_at"]) == clock.now()
    counts = (worker["tasks_processing"], worker["tasks_completed"], worker["tasks_failed"])
    assert counts == (0, 0, 0)


def test_workers_are_listed_most_recently_seen_first(api: TestClient, clock: ManualClock) -> None:
    for name in ("a", "b", "c"):
        api.post("/api/tasks/claim", json={"worker_id": name})
        clock.advance(1)
    api.post("/api/tasks/claim", json={"worker_id": "a"})
    assert [w["worker_id"] for w in api.get("/api/workers").json()["workers"]] == ["a", "c", "b"]


def test_heartbeat_updates_last_seen(api: TestClient, clock: ManualClock) -> None:
    create(api)
    task = claim_one(api, "w")
    clock.advance(30)
    heartbeat(api, task)
    stats = api.get("/api/workers/w/stats").json()
    assert instant(stats["last_seen_at"]) == clock.now()


def test_worker_stats_count_what_the_worker_did(api: TestClient, clock: ManualClock) -> None:
    for _ in range(4):
        create(api, max_attempts=1)
    done = [claim_one(api, "w") for _ in range(2)]
    clock.advance(2)
    complete(api, done[0], result={})
    clock.advance(4)
    complete(api, done[1], result={})
    failed = claim_one(api, "w")
    clock.advance(3)
    fail(api, failed)
    holding = claim_one(api, "w")
    stats = api.get("/api/workers/w/stats").json()
    assert (stats["tasks_completed"], stats["tasks_failed"], stats["tasks_processing"]) == (2, 1, 1)
    assert stats["current_task_ids"] == [holding["id"]]
    # held 2 s, 6 s and 3 s
    assert stats["avg_processing_seconds"] == pytest.approx((2 + 6 + 3) / 3)
    listed = api.get("/api/workers").json()["workers"][0]
    assert (listed["tasks_completed"], listed["tasks_failed"], listed["tasks_processing"]) == (
        2,
        1,
        1,
    )


def test_average_is_null_before_anything_finished(api: TestClient) -> None:
    create(api)
    claim_one(api, "w")
    assert api.get("/api/workers/w/stats").json()["avg_processing_seconds"] is None


def test_unknown_worker_stats_is_404(api: TestClient) -> None:
    body = assert_error(api.get("/api/workers/ghost/stats"), 404, "not_found")
    assert body["details"]["worker_id"] == "ghost"


def test_stats_on_an_empty_queue(api: TestClient, clock: ManualClock) -> None:
    stats = api.get("/api/stats").json()
    assert stats["depth"] == []
    assert stats["totals"] == {
        s: 0 for s in ("pending", "processing", "completed", "failed", "cancelled")
    }
    assert (stats["completed_last_minute"], stats["failed_last_minute"]) == (0, 0)
    assert stats["oldest_pending_age_seconds"] is None
    assert stats["processing_seconds_p50"] is None and stats["processing_seconds_p95"] is None
    assert instant(stats["generated_at"]) == clock.now()


def test_stats_depth_by_type_and_status(api: TestClient) -> None:
    create(api, "a")
    create(api, "a")
    create(api, "b")
    claim_one(api, task_types=["b"])
    cancelled = create(api, "a")
    api.post(f"/api/tasks/{cancelled['id']}/cancel")
    stats = api.get("/api/stats").json()
    depth = {(d["type"], d["status"]): d["count"] for d in stats["depth"]}
    assert depth == {("a", "pending"): 2, ("a", "cancelled"): 1, ("b", "processing"): 1}
    assert stats["totals"]["pending"] == 2
    assert stats["totals"]["processing"] == 1
    assert stats["totals"]["cancelled"] == 1


def test_stats_oldest_pending_age_ignores_delayed_tasks(
    api: TestClient, clock: ManualClock
) -> None:
    create(api)
    clock.advance(40)
    create(api)
    create(api, delay_seconds=600)
    assert api.get("/api/stats").json()["oldest_pending_age_seconds"] == 40


def test_stats_last_minute_counts(api: TestClient, clock: ManualClock) -> None:
    for _ in range(3):
        create(api, max_attempts=1)
    complete(api, claim_one(api), result={})
    clock.advance(61)
    complete(api, claim_one(api), result={})
    fail(api, claim_one(api), retry=False)
    stats = api.get("/api/stats").json()
    assert (stats["completed_last_minute"], stats["failed_last_minute"]) == (1, 1)
    assert stats["totals"]["completed"] == 2


def test_stats_processing_time_percentiles(api: TestClient, clock: ManualClock) -> None:
    for _ in range(20):
        create(api)
    for held in range(1, 21):
        task = claim_one(api)
        clock.advance(held)
        complete(api, task, result={})
    stats = api.get("/api/stats").json()
    assert stats["processing_seconds_p50"] == 10
    assert stats["processing_seconds_p95"] == 19
