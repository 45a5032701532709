"""Bad input and floods: each a clear 4xx, never a 500, and the server stays healthy."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.roles import Role
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.conftest import LiveServer, start_server
from tests.security.conftest import make_keys

LIMIT = 4096


@pytest.fixture
def small(db_url: str, clock: ManualClock) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        migrate_on_start=False,
        max_body_bytes=LIMIT,
        rate_limit_per_second=2,
        rate_limit_burst=5,
    )
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as client:
        yield client


def _error(response: object, status: int, code: str) -> None:
    assert getattr(response, "status_code", None) == status
    assert response.json()["error"] == code  # type: ignore[attr-defined]


def test_a_declared_body_over_the_limit_is_refused(small: TestClient) -> None:
    body = {"type": "a.b", "params": {"blob": "x" * LIMIT}}
    _error(small.post("/api/tasks", json=body), 413, "payload_too_large")


def test_an_undeclared_body_over_the_limit_is_refused(small: TestClient) -> None:
    chunks = (b'{"type": "a.b", "params": {"blob": "' + b"x" * 1000 for _ in range(8))
    response = small.post(
        "/api/tasks", content=chunks, headers={"Content-Type": "application/json"}
    )
    _error(response, 413, "payload_too_large")


def test_deep_nesting_huge_numbers_and_nan_are_422(small: TestClient) -> None:
    deep = '{"type": "a.b", "params": {"x": ' + "[" * 40 + "]" * 40 + "}}"
    nan = '{"type": "a.b", "params": {"x": NaN}}'
    huge = '{"type": "a.b", "params": {"x": 1' + "0" * 30 + "}}"
    infinite = '{"type": "a.b", "params": {"x": 1e999}}'
    for raw in (deep, nan, huge, infinite):
        response = small.post(
            "/api/tasks", content=raw, headers={"Content-Type": "application/json"}
        )
        _error(response, 422, "validation_error")


def test_a_flood_is_told_to_slow_down_and_may_come_back(
    small: TestClient, clock: ManualClock
) -> None:
    answers = [small.get("/api/stats") for _ in range(12)]
    limited = [a for a in answers if a.status_code == 429]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert limited
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["error"] == "rate_limited"
    assert small.get("/api/health").status_code == 200


@pytest.fixture
def tight_server(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    server = start_server(tmp_path, db_url, TASKMANAGER_MAX_BODY_BYTES=str(LIMIT))
    yield server
    server.stop()


def _post_chunked(
    server: LiveServer, chunks: list[bytes], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, object]]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", "/api/tasks")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        for chunk in chunks:
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_a_real_chunked_upload_over_the_limit_is_413(tight_server: LiveServer) -> None:
    status, body = _post_chunked(
        tight_server, [b'{"type": "a.b", "params": {"b": "'] + [b"y" * 1024] * 8 + [b'"}}']
    )
    assert (status, body["error"]) == (413, "payload_too_large")
    ok_status, created = _post_chunked(tight_server, [b'{"type": ', b'"a.b"}'])
    assert ok_status == 201 and created["status"] == "pending"


BATTERED_LIMIT = 64 * 1024  # room for a batch of 1,001 tasks, so that it meets its own limit
# Bad bodies of scenario 13 with the answer each gets: over the limit, nested too deep, a huge
# integer, NaN, invalid UTF-8, a bad type name, JSON nested past any parser's patience.
RAW_BAD_BODIES = [
    (b'{"type": "a.b", "params": {"blob": "' + b"x" * BATTERED_LIMIT + b'"}}', 413),
    (b'{"type": "a.b", "params": {"x": ' + b"[" * 40 + b"]" * 40 + b"}}", 422),
    (b'{"type": "a.b", "params": {"x": 1' + b"0" * 30 + b"}}", 422),
    (b'{"type": "a.b", "params": {"x": NaN}}', 422),
    (b'{"type": "\xff\xfe"}', 422),
    (b'{"type": "no spaces allowed"}', 422),
    (b"[" * 30_000 + b"]" * 30_000, 422),
]
BURST = 40


@pytest.fixture
def battered_server(tmp_path: Path) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A real server with keys, a body limit and a per-key rate limit."""
    db_url = f"sqlite:///{tmp_path}/battered.db"
    roles = {"fuzzer": Role.ADMIN, "flooder": Role.PRODUCER, "user": Role.ADMIN, "gone": Role.ADMIN}
    keys = make_keys(db_url, roles, "gone", migrate=True)
    server = start_server(
        tmp_path,
        db_url,
        TASKMANAGER_MAX_BODY_BYTES=str(BATTERED_LIMIT),
        TASKMANAGER_RATE_LIMIT_PER_SECOND="1",
        TASKMANAGER_RATE_LIMIT_BURST=str(BURST),
    )
    yield server, keys
    server.stop()


def _batter(server: LiveServer, keys: dict[str, str]) -> None:
    """Every kind of bad input of scenario 13, each answered with its clear 4xx."""
    fuzzer = {"Authorization": f"Bearer {keys['fuzzer']}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.api_url, timeout=30) as client:
        got = [
            client.post("/tasks", content=raw, headers=fuzzer).status_code
            for raw, _ in RAW_BAD_BODIES
        ]
        assert got == [status for _, status in RAW_BAD_BODIES]
        too_many = {"tasks": [{"type": "a.b"}] * 1001}
        assert client.post("/tasks/batch", json=too_many, headers=fuzzer).status_code == 422
        chunks = [b'{"type": "a.b", "params": {"b": "'] + [b"y" * 1024] * 80 + [b'"}}']
        assert _post_chunked(server, chunks, fuzzer)[0] == 413
        flooder = {"X-API-Key": keys["flooder"]}
        flood = [client.get("/stats", headers=flooder).status_code for _ in range(BURST + 20)]
        assert flood[:BURST] == [200] * BURST and set(flood) == {200, 429}
        assert client.get("/stats", headers={"X-API-Key": keys["gone"]}).status_code == 401


def test_after_every_bad_input_the_server_still_does_its_work(
    battered_server: tuple[LiveServer, dict[str, str]],
) -> None:
    server, keys = battered_server
    _batter(server, keys)
    # Unharmed: the process lives, and another caller creates, claims and completes a task.
    assert server.process.poll() is None
    user = {"Authorization": f"Bearer {keys['user']}"}
    with httpx.Client(base_url=server.api_url, headers=user, timeout=10) as client:
        made = client.post("/tasks", json={"type": "after.storm", "params": {"n": 1}})
        assert made.status_code == 201
        task = client.post("/tasks/claim", json={"worker_id": "w-after"}).json()
        assert task["id"] == made.json()["id"]
        done = client.post(
            f"/tasks/{task['id']}/complete",
            json={"lease_token": task["lease_token"], "result": {"ok": True}},
        )
        assert done.status_code == 200 and done.json()["status"] == "completed"
    assert "Traceback" not in server.log()
