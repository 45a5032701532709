"""Claims: order, types, leases, batches, delayed tasks."""

from __future__ import annotations

from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import claim, claim_one, create, get, instant, seconds_between


def claim_all(api: TestClient, **fields: object) -> list[str]:
    order = []
    while (task := claim(api, **fields)) is not None:
        order.append(task["params"]["name"])
    return order


def test_claim_with_nothing_to_do_answers_null(api: TestClient) -> None:
    response = api.post("/api/tasks/claim", json={"worker_id": "w1"})
    assert response.status_code == 200
    assert response.json() is None


def test_claim_leases_the_task_to_the_worker(api: TestClient, clock: ManualClock) -> None:
    created = create(api)
    task = claim_one(api, "worker-7")
    assert task["id"] == created["id"]
    assert task["status"] == "processing"
    assert task["worker_id"] == "worker-7"
    assert task["attempts"] == 1
    assert instant(task["claimed_at"]) == clock.now()
    assert seconds_between(task["lease_expires_at"], task["claimed_at"]) == 60
    assert isinstance(task["lease_token"], str) and len(task["lease_token"]) >= 16
    stored = get(api, task["id"])
    assert "lease_token" not in stored
    assert stored["status"] == "processing"


def test_a_claimed_task_is_not_claimed_again(api: TestClient) -> None:
    create(api)
    claim_one(api, "a")
    assert claim(api, "b") is None


def test_claim_order_is_priority_then_run_at_then_creation(
    api: TestClient, clock: ManualClock
) -> None:
    create(api, params={"name": "low"}, priority=-1)
    create(api, params={"name": "late"}, run_at="2029-12-31T23:59:50Z")
    create(api, params={"name": "first-made"})
    create(api, params={"name": "second-made"})
    create(api, params={"name": "early"}, run_at="2029-12-31T23:00:00Z")
    create(api, params={"name": "high"}, priority=10)
    expected = ["high", "early", "late", "first-made", "second-made", "low"]
    assert claim_all(api) == expected


def test_claim_filters_by_task_types(api: TestClient) -> None:
    create(api, "mail", params={"name": "m"}, priority=9)
    create(api, "sms", params={"name": "s"})
    create(api, "push", params={"name": "p"})
    assert claim_all(api, task_types=["sms", "push"]) == ["s", "p"]
    assert (
        get(api, api.get("/api/tasks", params={"type": "mail"}).json()["tasks"][0]["id"])["status"]
        == "pending"
    )


def test_claim_lease_seconds_sets_the_lease(api: TestClient) -> None:
    create(api)
    task = claim_one(api, lease_seconds=5)
    assert seconds_between(task["lease_expires_at"], task["claimed_at"]) == 5


def test_claim_lease_seconds_bounds_are_accepted(api: TestClient) -> None:
    create(api)
    create(api)
    short = claim_one(api, lease_seconds=1)
    long = claim_one(api, lease_seconds=43200)
    assert seconds_between(short["lease_expires_at"], short["claimed_at"]) == 1
    assert seconds_between(long["lease_expires_at"], long["claimed_at"]) == 43200


def test_delayed_task_is_claimable_only_when_due(api: TestClient, clock: ManualClock) -> None:
    task = create(api, delay_seconds=30)
    assert claim(api) is None
    clock.advance(29.9)
    assert claim(api) is None
    clock.advance(0.1)
    assert claim_one(api)["id"] == task["id"]


def test_run_at_in_the_future_waits(api: TestClient, clock: ManualClock) -> None:
    task = create(api, run_at="2030-01-01T01:00:00Z")
    assert claim(api) is None
    clock.advance(3600)
    assert claim_one(api)["id"] == task["id"]


def test_run_at_in_the_past_is_claimable_at_once(api: TestClient) -> None:
    create(api, run_at="2000-01-01T00:00:00Z")
    assert claim(api) is not None


def test_claim_batch_returns_up_to_limit_in_claim_order(api: TestClient) -> None:
    for i in range(5):
        create(api, params={"name": i}, priority=i)
    response = api.post("/api/tasks/claim/batch", json={"worker_id": "w", "limit": 3})
    assert response.status_code == 200
    tasks = response.json()["tasks"]
    assert [t["params"]["name"] for t in tasks] == [4, 3, 2]
    assert all(t["status"] == "processing" and t["lease_token"] for t in tasks)
    assert len({t["lease_token"] for t in tasks}) == 3
    rest = api.post("/api/tasks/claim/batch", json={"worker_id": "w", "limit": 3}).json()
    assert [t["params"]["name"] for t in rest["tasks"]] == [1, 0]


def test_claim_batch_default_limit_is_10(api: TestClient) -> None:
    api.post("/api/tasks/batch", json={"tasks": [{"type": "t"}] * 12})
    tasks = api.post("/api/tasks/claim/batch", json={"worker_id": "w"}).json()["tasks"]
    assert len(tasks) == 10


def test_claim_batch_limit_100(api: TestClient) -> None:
    api.post("/api/tasks/batch", json={"tasks": [{"type": "t"}] * 120})
    body = {"worker_id": "w", "limit": 100}
    assert len(api.post("/api/tasks/claim/batch", json=body).json()["tasks"]) == 100


def test_claim_batch_with_nothing_is_an_empty_list(api: TestClient) -> None:
    response = api.post("/api/tasks/claim/batch", json={"worker_id": "w", "limit": 5})
    assert response.json() == {"tasks": []}


def test_claim_batch_honours_types_and_lease(api: TestClient) -> None:
    create(api, "a")
    create(api, "b")
    body = {"worker_id": "w", "task_types": ["b"], "lease_seconds": 7, "limit": 5}
    tasks = api.post("/api/tasks/claim/batch", json=body).json()["tasks"]
    assert [t["type"] for t in tasks] == ["b"]
    assert seconds_between(tasks[0]["lease_expires_at"], tasks[0]["claimed_at"]) == 7
