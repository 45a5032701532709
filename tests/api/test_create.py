"""Creating tasks: defaults, schedules, batches, idempotency."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from tests.api.helpers import assert_error, claim, create, get, instant, seconds_between

TASK_KEYS = {
    "id", "type", "status", "params", "priority", "created_at", "run_at", "claimed_at",
    "completed_at", "worker_id", "result", "error", "attempts", "max_attempts",
    "lease_expires_at", "progress", "progress_message", "idempotency_key",
}  # fmt: skip


def test_create_answers_the_whole_task_with_defaults(api: TestClient, clock: ManualClock) -> None:
    task = create(api, params={"message": "Hello, World!"})
    assert set(task) == TASK_KEYS
    uuid.UUID(task["id"])
    assert task["type"] == "example.echo"
    assert task["status"] == "pending"
    assert task["params"] == {"message": "Hello, World!"}
    assert task["priority"] == 0
    assert task["attempts"] == 0
    assert task["max_attempts"] == 3
    assert instant(task["created_at"]) == clock.now()
    assert task["run_at"] == task["created_at"]
    for unset in ("claimed_at", "completed_at", "worker_id", "result", "error", "progress"):
        assert task[unset] is None


def test_params_default_to_an_empty_object(api: TestClient) -> None:
    assert create(api)["params"] == {}


def test_created_task_is_readable_by_id(api: TestClient) -> None:
    task = create(api, priority=7, max_attempts=9, params={"n": [1, 2, {"deep": True}]})
    assert get(api, task["id"]) == task


def test_delay_seconds_sets_run_at_from_the_clock(api: TestClient) -> None:
    task = create(api, delay_seconds=90)
    assert seconds_between(task["run_at"], task["created_at"]) == 90


def test_run_at_with_an_offset_is_stored_as_utc(api: TestClient) -> None:
    task = create(api, run_at="2030-01-01T02:00:00+02:00")
    assert task["run_at"] == "2030-01-01T00:00:00Z"


def test_64_bit_integers_in_params_survive_the_round_trip(api: TestClient) -> None:
    edges = {"max": 2**63 - 1, "min": -(2**63)}
    task = create(api, params=edges)
    assert get(api, task["id"])["params"] == edges


def test_integers_beyond_64_bits_are_refused(api: TestClient) -> None:
    # PHP, JavaScript and most JSON decoders would silently round them.
    response = api.post("/api/tasks", json={"type": "a.b", "params": {"big": 10**40}})
    assert response.status_code == 422
    assert "64 bits" in response.json()["message"]


def test_batch_creates_every_task_in_order(api: TestClient) -> None:
    items = [{"type": "batch.item", "params": {"i": i}} for i in range(5)]
    response = api.post("/api/tasks/batch", json={"tasks": items})
    assert response.status_code == 201
    tasks = response.json()["tasks"]
    assert [t["params"]["i"] for t in tasks] == list(range(5))
    assert len({t["id"] for t in tasks}) == 5
    assert api.get("/api/tasks", params={"type": "batch.item"}).json()["tasks"][0] == tasks[-1]


def test_batch_of_1000_is_accepted(api: TestClient) -> None:
    items = [{"type": "bulk"}] * 1000
    response = api.post("/api/tasks/batch", json={"tasks": items})
    assert response.status_code == 201
    assert len(response.json()["tasks"]) == 1000


def test_batch_with_one_invalid_item_creates_nothing(api: TestClient) -> None:
    items = [{"type": "ok.one"}, {"type": "bad type!"}, {"type": "ok.two"}]
    assert_error(api.post("/api/tasks/batch", json={"tasks": items}), 422, "validation_error")
    assert api.get("/api/tasks").json()["tasks"] == []


def test_batch_failing_a_schema_creates_nothing(api: TestClient) -> None:
    schema = {"type": "object", "required": ["to"]}
    api.put("/api/task-types/mail.send", json={"params_schema": schema})
    items = [{"type": "mail.send", "params": {"to": "a"}}, {"type": "mail.send", "params": {}}]
    body = assert_error(
        api.post("/api/tasks/batch", json={"tasks": items}), 422, "validation_error"
    )
    assert "tasks[1]" in body["message"]
    assert api.get("/api/tasks").json()["tasks"] == []


def test_idempotent_replay_answers_200_with_the_same_task(api: TestClient) -> None:
    body = {"type": "pay", "params": {"amount": 5}, "idempotency_key": "order-1"}
    first = api.post("/api/tasks", json=body)
    again = api.post("/api/tasks", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert len(api.get("/api/tasks").json()["tasks"]) == 1


def test_idempotent_replay_after_the_task_moved_on_returns_its_current_state(
    api: TestClient,
) -> None:
    body = {"type": "pay", "idempotency_key": "order-2"}
    first = api.post("/api/tasks", json=body).json()
    claimed = claim(api)
    assert claimed is not None and claimed["id"] == first["id"]
    again = api.post("/api/tasks", json=body)
    assert again.status_code == 200
    assert again.json()["status"] == "processing"


def test_same_key_with_another_body_is_a_conflict(api: TestClient) -> None:
    api.post("/api/tasks", json={"type": "pay", "params": {"amount": 5}, "idempotency_key": "k"})
    other = {"type": "pay", "params": {"amount": 6}, "idempotency_key": "k"}
    body = assert_error(api.post("/api/tasks", json=other), 409, "conflict")
    assert body["details"]["idempotency_key"] == "k"
    assert len(api.get("/api/tasks").json()["tasks"]) == 1


def test_batch_replays_existing_keys_and_creates_the_rest(api: TestClient) -> None:
    existing = create(api, "pay", idempotency_key="a")
    items = [{"type": "pay", "idempotency_key": "a"}, {"type": "pay", "idempotency_key": "b"}]
    response = api.post("/api/tasks/batch", json={"tasks": items})
    assert response.status_code == 201
    tasks = response.json()["tasks"]
    assert tasks[0]["id"] == existing["id"]
    assert tasks[1]["id"] != existing["id"]
    assert len(api.get("/api/tasks").json()["tasks"]) == 2


def test_batch_repeating_a_key_makes_one_task(api: TestClient) -> None:
    items = [{"type": "pay", "idempotency_key": "same"}] * 3
    tasks = api.post("/api/tasks/batch", json={"tasks": items}).json()["tasks"]
    assert len({t["id"] for t in tasks}) == 1
    assert len(api.get("/api/tasks").json()["tasks"]) == 1


def test_batch_conflicting_with_a_stored_key_creates_nothing(api: TestClient) -> None:
    create(api, "pay", params={"v": 1}, idempotency_key="x")
    items = [{"type": "fresh"}, {"type": "pay", "params": {"v": 2}, "idempotency_key": "x"}]
    assert_error(api.post("/api/tasks/batch", json={"tasks": items}), 409, "conflict")
    assert api.get("/api/tasks", params={"type": "fresh"}).json()["tasks"] == []


def test_batch_repeating_a_key_with_other_bodies_is_a_conflict(api: TestClient) -> None:
    items = [
        {"type": "pay", "params": {"v": 1}, "idempotency_key": "y"},
        {"type": "pay", "params": {"v": 2}, "idempotency_key": "y"},
    ]
    assert_error(api.post("/api/tasks/batch", json={"tasks": items}), 409, "conflict")
    assert api.get("/api/tasks").json()["tasks"] == []
