"""Identifiers match exactly, on every backend: letter case and trailing spaces count."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import claim_one, create


def ids(api: TestClient, **params: object) -> list[str]:
    response = api.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


def test_idempotency_keys_differing_in_case_make_two_tasks(api: TestClient) -> None:
    first = api.post("/api/tasks", json={"type": "pay", "idempotency_key": "Order-1"})
    second = api.post("/api/tasks", json={"type": "pay", "idempotency_key": "order-1"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert second.json()["idempotency_key"] == "order-1"
    assert len(ids(api)) == 2


def test_idempotency_keys_differing_in_trailing_spaces_make_two_tasks(api: TestClient) -> None:
    keys = ["order-1", "order-1 ", "order-1  "]
    created = [create(api, "pay", idempotency_key=key) for key in keys]
    assert [task["idempotency_key"] for task in created] == keys
    assert len({task["id"] for task in created}) == 3
    replay = api.post("/api/tasks", json={"type": "pay", "idempotency_key": "order-1 "})
    assert replay.status_code == 200 and replay.json()["id"] == created[1]["id"]


def test_idempotency_keys_keep_four_byte_characters(api: TestClient) -> None:
    task = create(api, "pay", idempotency_key="order-\U0001f600")
    assert api.get(f"/api/tasks/{task['id']}").json()["idempotency_key"] == "order-\U0001f600"
    assert create(api, "pay", idempotency_key="order-\U0001f601")["id"] != task["id"]


def test_type_filter_and_claim_match_the_type_exactly(api: TestClient) -> None:
    upper = create(api, "Mail.send")
    lower = create(api, "mail.send")
    assert ids(api, type="mail.send") == [lower["id"]]
    assert ids(api, type="Mail.send") == [upper["id"]]
    assert ids(api, type="MAIL.SEND") == []
    assert claim_one(api, task_types=["mail.send"])["id"] == lower["id"]


def test_task_types_differing_in_case_are_two_types(api: TestClient) -> None:
    for name, priority in (("Mail.send", 1), ("mail.send", 2)):
        assert api.put(f"/api/task-types/{name}", json={"priority": priority}).status_code == 200
    listed = api.get("/api/task-types").json()["task_types"]
    assert sorted((t["type"], t["priority"]) for t in listed) == [
        ("Mail.send", 1),
        ("mail.send", 2),
    ]
    assert api.get("/api/task-types/MAIL.SEND").status_code == 404


def test_worker_filter_matches_the_worker_id_exactly(api: TestClient) -> None:
    create(api)
    create(api)
    create(api)
    alice = claim_one(api, "alice")
    upper = claim_one(api, "Alice")
    spaced = claim_one(api, "alice ")
    assert ids(api, worker_id="alice") == [alice["id"]]
    assert ids(api, worker_id="Alice") == [upper["id"]]
    assert ids(api, worker_id="alice ") == [spaced["id"]]
    workers = api.get("/api/workers").json()["workers"]
    assert sorted(w["worker_id"] for w in workers) == ["Alice", "alice", "alice "]
    assert api.get("/api/workers/alice/stats").json()["current_task_ids"] == [alice["id"]]


def test_a_task_id_in_another_case_is_not_the_task(api: TestClient) -> None:
    task = create(api)
    assert api.get(f"/api/tasks/{task['id'].upper()}").status_code == 404
    assert api.get(f"/api/tasks/{task['id']}").status_code == 200
