"""Listing tasks: newest first, every filter, cursor paging, page size limits."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import MakeApi
from tests.api.helpers import assert_error, claim_one, complete, create


def ids(api: TestClient, **params: object) -> list[str]:
    response = api.get("/api/tasks", params=params)
    assert response.status_code == 200, response.text
    return [task["id"] for task in response.json()["tasks"]]


def test_list_is_newest_first(api: TestClient) -> None:
    created = [create(api, params={"i": i})["id"] for i in range(4)]
    assert ids(api) == created[::-1]


def test_empty_list_has_no_next_cursor(api: TestClient) -> None:
    assert api.get("/api/tasks").json() == {"tasks": [], "next_cursor": None}


def test_filter_by_status(api: TestClient) -> None:
    pending = create(api, "a")
    create(api, "b", priority=5)
    running = claim_one(api)
    assert ids(api, status="pending") == [pending["id"]]
    assert ids(api, status="processing") == [running["id"]]
    assert ids(api, status="completed") == []


def test_filter_by_type(api: TestClient) -> None:
    first = create(api, "mail.send")
    create(api, "sms.send")
    second = create(api, "mail.send")
    assert ids(api, type="mail.send") == [second["id"], first["id"]]


def test_filter_by_worker(api: TestClient) -> None:
    create(api)
    create(api)
    mine = claim_one(api, "alice")
    claim_one(api, "bob")
    assert ids(api, worker_id="alice") == [mine["id"]]


def test_filters_combine(api: TestClient) -> None:
    create(api, "a")
    create(api, "b")
    done = claim_one(api, "w", task_types=["b"])
    assert complete(api, done, result={}).status_code == 200
    claim_one(api, "w", task_types=["a"])
    assert ids(api, status="completed", type="b", worker_id="w") == [done["id"]]
    assert ids(api, status="completed", type="a") == []


def test_cursor_pages_through_everything_once(api: TestClient) -> None:
    created = [create(api, params={"i": i})["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, object] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/api/tasks", params=params).json()
        seen += [task["id"] for task in page["tasks"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == created[::-1]
    assert pages == 3


def test_exact_last_page_has_no_next_cursor(api: TestClient) -> None:
    for _ in range(2):
        create(api)
    assert api.get("/api/tasks", params={"limit": 2}).json()["next_cursor"] is None


def test_cursor_keeps_its_place_when_new_tasks_arrive(api: TestClient) -> None:
    old = [create(api)["id"] for _ in range(3)]
    page = api.get("/api/tasks", params={"limit": 1}).json()
    create(api)
    rest = ids(api, cursor=page["next_cursor"])
    assert rest == old[:2][::-1]


def test_cursor_works_with_a_filter(api: TestClient) -> None:
    wanted = [create(api, "x")["id"] for _ in range(3)]
    create(api, "y")
    page = api.get("/api/tasks", params={"type": "x", "limit": 2}).json()
    assert [t["id"] for t in page["tasks"]] == wanted[:0:-1]
    assert ids(api, type="x", cursor=page["next_cursor"]) == [wanted[0]]


def _pages(api: TestClient, **params: object) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        paging = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/tasks", params={**params, **paging}).json()
        seen += [task["id"] for task in page["tasks"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_a_type_or_worker_filter_pages_newest_first_across_statuses(api: TestClient) -> None:
    # Each status is read from its own index walk: the pages must still interleave them.
    made = [create(api, "x", params={"i": i})["id"] for i in range(7)]
    create(api, "y")
    first = claim_one(api, "w", task_types=["x"])  # made[0]: completed
    assert complete(api, first, result={}).status_code == 200
    claim_one(api, "w", task_types=["x"])  # made[1]: processing
    assert api.post(f"/api/tasks/{made[4]}/cancel").status_code == 200
    assert _pages(api, type="x") == made[::-1]
    assert _pages(api, worker_id="w") == [made[1], made[0]]
    assert _pages(api, type="x", worker_id="w") == [made[1], made[0]]


def test_limit_over_the_page_size_is_refused(make_api: MakeApi) -> None:
    api = make_api(max_page_size=5)
    assert api.get("/api/tasks", params={"limit": 5}).status_code == 200
    body = assert_error(api.get("/api/tasks", params={"limit": 6}), 422, "validation_error")
    assert body["details"]["max"] == 5


def test_default_max_page_size_is_500(api: TestClient) -> None:
    assert api.get("/api/tasks", params={"limit": 500}).status_code == 200
    assert_error(api.get("/api/tasks", params={"limit": 501}), 422, "validation_error")


def test_get_unknown_task_is_404(api: TestClient) -> None:
    body = assert_error(api.get("/api/tasks/no-such-task"), 404, "not_found")
    assert body["details"]["id"] == "no-such-task"
