"""The busiest endpoints answer through `HotPaths` exactly as through FastAPI's own routing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from taskmanager.clock import ManualClock
from taskmanager.roles import Role
from taskmanager.server.app import HOT_ENDPOINTS, Api, create_app
from taskmanager.server.hotpath import HotPaths, NotHot
from taskmanager.server.routes import leases, tasks
from taskmanager.server.settings import Settings
from taskmanager.storage import SQLStore
from tests.api.helpers import ERROR_KEYS

MAX_BODY = 4096


def _app(db_url: str, clock: ManualClock, *, hot: bool) -> Api:
    settings = Settings(database_url=db_url, migrate_on_start=False, max_body_bytes=MAX_BODY)
    app = create_app(settings, clock=clock)
    assert isinstance(app, Api)
    if not hot:
        app.hot_paths = None
    return app


@pytest.fixture
def pair(db_url: str, clock: ManualClock) -> Iterator[tuple[TestClient, TestClient]]:
    """The app as served, and the same app without `HotPaths`, on one database."""
    with (
        TestClient(_app(db_url, clock, hot=True), raise_server_exceptions=False) as hot,
        TestClient(_app(db_url, clock, hot=False), raise_server_exceptions=False) as plain,
    ):
        yield hot, plain


def _same_answer(pair: tuple[TestClient, TestClient], path: str, **request: Any) -> Any:
    hot, plain = (client.post(path, **request) for client in pair)
    assert (hot.status_code, hot.headers.get("content-type")) == (
        plain.status_code,
        plain.headers.get("content-type"),
    ), (hot.text, plain.text)
    assert hot.json() == plain.json()
    return hot.json()


NUL_ID = "%00"
BAD_BODIES = [
    pytest.param("/api/tasks", {"content": b"{not json"}, id="create, not JSON"),
    pytest.param("/api/tasks", {"content": b""}, id="create, no body"),
    pytest.param("/api/tasks", {"json": {"type": "a.b", "typo": 1}}, id="create, unknown field"),
    pytest.param("/api/tasks", {"json": {"type": "a.b", "params": []}}, id="create, params list"),
    pytest.param(
        "/api/tasks",
        {"content": b'{"type": "a.b"}', "headers": {"content-type": "text/plain"}},
        id="create, not sent as JSON",
    ),
    pytest.param(
        "/api/tasks", {"content": b'{"type": "a.b", "params": {"n": NaN}}'}, id="create, NaN"
    ),
    pytest.param("/api/tasks/batch", {"json": {"tasks": []}}, id="batch, empty"),
    pytest.param("/api/tasks/claim", {"json": {"worker_id": ""}}, id="claim, empty worker"),
    pytest.param(
        "/api/tasks/claim/batch", {"json": {"worker_id": "w", "limit": 0}}, id="claim, limit 0"
    ),
    pytest.param(
        f"/api/tasks/{NUL_ID}/complete",
        {"json": {"worker_id": "w", "lease_token": "t"}},
        id="complete, NUL in the id",
    ),
    pytest.param("/api/tasks/nope/fail", {"json": {"lease_token": "t"}}, id="fail, no error given"),
    pytest.param(
        "/api/tasks/complete/batch", {"json": {"tasks": []}}, id="complete batch, no worker"
    ),
]


@pytest.mark.parametrize(("path", "request_"), BAD_BODIES)
def test_a_bad_request_gets_fastapis_own_answer(
    pair: tuple[TestClient, TestClient], path: str, request_: dict[str, Any]
) -> None:
    body = _same_answer(pair, path, **request_)
    assert set(body) == ERROR_KEYS


def test_unknown_tasks_and_tokens_are_answered_alike(pair: tuple[TestClient, TestClient]) -> None:
    missing = "00000000-0000-7000-8000-000000000000"
    for action, extra in (("complete", {}), ("heartbeat", {}), ("fail", {"error": "x"})):
        request = {"worker_id": "w", "lease_token": "t", **extra}
        body = _same_answer(pair, f"/api/tasks/{missing}/{action}", json=request)
        assert body["error"] == "not_found"


def test_a_body_over_the_limit_is_413_even_when_its_length_is_not_declared(
    pair: tuple[TestClient, TestClient],
) -> None:
    chunk = json.dumps({"type": "a.b", "params": {"s": "x" * MAX_BODY}}).encode()

    def stream() -> Iterator[bytes]:  # no Content-Length: the limit counts as it streams in
        yield chunk[:100]
        yield chunk[100:]

    hot, plain = pair
    answers = [client.post("/api/tasks", content=stream()) for client in (hot, plain)]
    assert [a.status_code for a in answers] == [413, 413]
    assert answers[0].json() == answers[1].json()
    assert answers[0].json()["error"] == "payload_too_large"


def test_keys_and_roles_are_checked_alike(
    pair: tuple[TestClient, TestClient], store: SQLStore
) -> None:
    producer, _ = store.create_api_key("producer", Role.PRODUCER)
    worker, _ = store.create_api_key("worker", Role.WORKER)
    claim = {"worker_id": "w"}
    no_key = _same_answer(pair, "/api/tasks/claim", json=claim)
    assert no_key["error"] == "unauthorized"
    wrong_role = {"authorization": f"Bearer {producer}"}
    assert _same_answer(pair, "/api/tasks/claim", json=claim, headers=wrong_role)["error"] == (
        "forbidden"
    )
    bad = {"authorization": "Bearer nope"}
    assert _same_answer(pair, "/api/tasks", json={"type": "a.b"}, headers=bad)["error"] == (
        "unauthorized"
    )
    hot, _ = pair
    answer = hot.post("/api/tasks", json={"type": "a.b"}, headers={"x-api-key": producer})
    assert answer.status_code == 201
    claimed = hot.post("/api/tasks/claim", json=claim, headers={"x-api-key": worker})
    assert claimed.json()["id"] == answer.json()["id"]


def test_the_metrics_name_the_route_of_a_hot_request(pair: tuple[TestClient, TestClient]) -> None:
    hot, _ = pair
    task = hot.post("/api/tasks", json={"type": "a.b"}).json()
    claimed = hot.post("/api/tasks/claim", json={"worker_id": "w"}).json()
    body = {"worker_id": "w", "lease_token": claimed["lease_token"]}
    assert hot.post(f"/api/tasks/{task['id']}/complete", json=body).status_code == 200
    metrics = hot.get("/metrics").text
    assert 'route="/api/tasks/{task_id}/complete",status="200"' in metrics
    assert task["id"] not in metrics


class _Downstream:
    """FastAPI's side of `HotPaths`, recording what reaches it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await Response(b"{}", 299, media_type="application/json")(scope, receive, send)


def _post(app: FastAPI, hot: HotPaths, path: str, body: bytes) -> int:
    """POST `body` to `hot` in one message, as a server would; the answer's status."""
    sent: list[Message] = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
        "client": ("127.0.0.1", 1),
        "app": app,
    }

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(hot(scope, receive, send))
    return int(sent[0]["status"])


def test_a_valid_request_never_reaches_fastapi_and_a_bad_one_arrives_whole(
    db_url: str, clock: ManualClock
) -> None:
    app = _app(db_url, clock, hot=True)
    downstream = _Downstream()
    hot = HotPaths(app, downstream, "/api", (tasks.router, leases.router), HOT_ENDPOINTS, MAX_BODY)
    assert _post(app, hot, "/api/tasks", b'{"type": "a.b"}') == 201
    assert downstream.bodies == []
    assert _post(app, hot, "/api/tasks", b'{"type": 1}') == 299
    assert _post(app, hot, "/api/tasks/claim/later", b"{}") == 299  # no such hot route
    assert downstream.bodies == [b'{"type": 1}', b"{}"]


def test_an_endpoint_fastapi_would_run_in_a_thread_is_refused() -> None:
    router = APIRouter()

    @router.post("/tasks")
    def blocking() -> Response:
        return Response()

    with pytest.raises(NotHot, match="make it async"):
        HotPaths(FastAPI(), _Downstream(), "/api", (router,), (blocking,), MAX_BODY)
