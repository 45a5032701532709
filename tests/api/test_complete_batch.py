"""Completing several held tasks at once, with an outcome for each."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import claim_one, create, get


def test_each_item_gets_its_own_outcome(api: TestClient) -> None:
    for _ in range(3):
        create(api)
    mine = [claim_one(api, "w") for _ in range(2)]
    other = claim_one(api, "other")
    items = [
        {"id": mine[0]["id"], "lease_token": mine[0]["lease_token"], "result": {"n": 0}},
        {"id": mine[1]["id"], "lease_token": "stale", "result": {"n": 1}},
        {"id": other["id"], "lease_token": other["lease_token"], "result": {"n": 2}},
        {"id": "missing", "lease_token": "t", "result": {}},
    ]
    response = api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": items})
    assert response.status_code == 200
    outcomes = response.json()["tasks"]
    assert [o["id"] for o in outcomes] == [i["id"] for i in items]
    assert [o["outcome"] for o in outcomes] == ["completed", "lease_lost", "completed", "not_found"]
    assert outcomes[0]["task"]["result"] == {"n": 0}
    assert outcomes[1]["task"] is None
    assert set(outcomes[1]["error"]) == {"error", "message", "details"}
    assert outcomes[3]["error"]["error"] == "not_found"
    assert get(api, mine[1]["id"])["status"] == "processing"
    assert get(api, mine[0]["id"])["status"] == "completed"


def test_batch_completion_of_a_cancelled_task_says_so(api: TestClient) -> None:
    create(api)
    task = claim_one(api, "w")
    api.post(f"/api/tasks/{task['id']}/cancel")
    items = [{"id": task["id"], "lease_token": task["lease_token"], "result": {}}]
    outcome = api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": items})
    assert outcome.json()["tasks"][0]["outcome"] == "task_cancelled"
    assert get(api, task["id"])["status"] == "cancelled"


def test_batch_completion_counts_for_the_worker(api: TestClient) -> None:
    for _ in range(2):
        create(api)
    tasks = [claim_one(api, "w") for _ in range(2)]
    items = [{"id": t["id"], "lease_token": t["lease_token"], "result": {}} for t in tasks]
    api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": items})
    stats = api.get("/api/workers/w/stats").json()
    assert (stats["tasks_completed"], stats["tasks_processing"]) == (2, 0)


def test_a_task_may_appear_only_once_in_a_batch(api: TestClient) -> None:
    create(api)
    task = claim_one(api, "w")
    item = {"id": task["id"], "lease_token": task["lease_token"], "result": {}}
    response = api.post("/api/tasks/complete/batch", json={"worker_id": "w", "tasks": [item] * 2})
    assert response.status_code == 422
    assert "only once" in response.json()["message"]
    assert get(api, task["id"])["status"] == "processing"


def processed_count(api: TestClient, task_type: str) -> float:
    """The processing-time histogram's count for `task_type` in this process's /metrics."""
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(f'taskmanager_task_processing_seconds_count{{type="{task_type}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_outcomes_without_tasks_when_asked(api: TestClient) -> None:
    for _ in range(2):
        create(api, "brief.job")
    held = [claim_one(api, "w") for _ in range(2)]
    items = [
        {"id": held[0]["id"], "lease_token": held[0]["lease_token"], "result": {"n": 0}},
        {"id": held[1]["id"], "lease_token": "stale", "result": {"n": 1}},
    ]
    before = processed_count(api, "brief.job")
    body = {"worker_id": "w", "tasks": items, "include_tasks": False}
    response = api.post("/api/tasks/complete/batch", json=body)
    assert response.status_code == 200
    completed, refused = response.json()["tasks"]
    assert (completed["id"], completed["outcome"], completed["task"]) == (
        held[0]["id"],
        "completed",
        None,
    )
    assert refused["outcome"] == "lease_lost" and refused["error"]["error"] == "lease_lost"
    assert get(api, held[0]["id"])["result"] == {"n": 0}
    assert get(api, held[1]["id"])["status"] == "processing"
    assert processed_count(api, "brief.job") == before + 1


def test_a_repeated_completion_without_tasks_is_still_completed(api: TestClient) -> None:
    create(api)
    task = claim_one(api, "w")
    item = {"id": task["id"], "lease_token": task["lease_token"], "result": {"n": 1}}
    body = {"worker_id": "w", "tasks": [item], "include_tasks": False}
    first = api.post("/api/tasks/complete/batch", json=body).json()["tasks"][0]
    again = api.post("/api/tasks/complete/batch", json=body).json()["tasks"][0]
    assert first["outcome"] == again["outcome"] == "completed"
    assert get(api, task["id"])["status"] == "completed"


def test_include_tasks_must_be_a_boolean(api: TestClient) -> None:
    create(api)
    task = claim_one(api, "w")
    item = {"id": task["id"], "lease_token": task["lease_token"], "result": {}}
    body = {"worker_id": "w", "tasks": [item], "include_tasks": "sometimes"}
    response = api.post("/api/tasks/complete/batch", json=body)
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["path"] == "include_tasks"
    assert get(api, task["id"])["status"] == "processing"
