"""The answers of the routes workers and producers call most: exact JSON, right types."""

from __future__ import annotations

from fastapi.testclient import TestClient

PARAMS = {"city": "Zürich ☃ 東京", "ratio": 1.5, "big": 10**18, "nested": {"list": [None, True]}}


def test_params_come_back_unchanged_from_create_claim_and_complete(api: TestClient) -> None:
    created = api.post("/api/tasks", json={"type": "answers.t", "params": PARAMS})
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert created.json()["params"] == PARAMS
    assert "Zürich ☃ 東京".encode() in created.content  # UTF-8, not \u escapes

    claimed = api.post("/api/tasks/claim/batch", json={"worker_id": "w", "limit": 5})
    (task,) = claimed.json()["tasks"]
    assert task["params"] == PARAMS and task["lease_token"]

    done = api.post(
        f"/api/tasks/{task['id']}/complete",
        json={"worker_id": "w", "lease_token": task["lease_token"], "result": PARAMS},
    )
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "completed" and body["result"] == PARAMS
    assert "lease_token" not in body  # a plain task answer never shows the lease token


def test_an_idempotent_replay_answers_200_with_the_first_task(api: TestClient) -> None:
    body = {"type": "answers.t", "idempotency_key": "answers-1"}
    first = api.post("/api/tasks", json=body)
    again = api.post("/api/tasks", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_batch_answers_carry_every_task_in_order(api: TestClient) -> None:
    made = api.post("/api/tasks/batch", json={"tasks": [{"type": "answers.b"}] * 3})
    assert made.status_code == 201
    ids = [task["id"] for task in made.json()["tasks"]]
    claimed = api.post("/api/tasks/claim/batch", json={"worker_id": "w", "limit": 3}).json()
    assert [task["id"] for task in claimed["tasks"]] == ids
    items = [
        {"id": task["id"], "lease_token": task["lease_token"], "result": {"i": i}}
        for i, task in enumerate(claimed["tasks"])
    ]
    answer = api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": items})
    outcomes = answer.json()["tasks"]
    assert [item["outcome"] for item in outcomes] == ["completed"] * 3
    assert [item["task"]["result"] for item in outcomes] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert all("lease_token" not in item["task"] for item in outcomes)
