"""Bad input and floods: each a clear 4xx, never a 500, and the server stays healthy."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.conftest import LiveServer, start_server

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


def _post_chunked(server: LiveServer, chunks: list[bytes]) -> tuple[int, dict[str, object]]:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", "/api/tasks")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
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
