"""Every size the API accepts is stored whole, on every backend, in four-byte characters too."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import claim_one, create, fail, get, heartbeat

WIDE = "\U0001f600"  # four bytes in UTF-8: the most a character costs a database


def test_the_longest_error_a_fail_accepts_is_kept_whole(api: TestClient) -> None:
    create(api, max_attempts=1)
    task = claim_one(api)
    error = "é" + WIDE * 65535
    response = fail(api, task, error)
    assert response.status_code == 200, response.text
    assert get(api, task["id"])["error"] == error


def test_the_longest_strings_of_a_task_are_kept_whole(api: TestClient) -> None:
    key = WIDE * 200
    created = create(api, idempotency_key=key, params={"text": WIDE * 100_000})
    task = claim_one(api, worker_id=WIDE * 200)
    message = WIDE * 1000
    assert heartbeat(api, task, progress=5, message=message).status_code == 200
    stored = get(api, created["id"])
    assert stored["idempotency_key"] == key
    assert stored["worker_id"] == WIDE * 200
    assert stored["progress_message"] == message
    assert stored["params"] == {"text": WIDE * 100_000}


def test_the_longest_task_type_description_is_kept_whole(api: TestClient) -> None:
    description = WIDE * 2000
    response = api.put("/api/task-types/sized.job", json={"description": description})
    assert response.status_code == 200, response.text
    assert api.get("/api/task-types/sized.job").json()["description"] == description
