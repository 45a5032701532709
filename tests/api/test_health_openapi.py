"""Health and the OpenAPI document."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from taskmanager import __version__
from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.api.conftest import MakeApi

SPEC_ENDPOINTS = {
    ("get", "/api/health"),
    ("post", "/api/tasks"),
    ("post", "/api/tasks/batch"),
    ("get", "/api/tasks"),
    ("get", "/api/tasks/{task_id}"),
    ("post", "/api/tasks/claim"),
    ("post", "/api/tasks/claim/batch"),
    ("post", "/api/tasks/{task_id}/heartbeat"),
    ("post", "/api/tasks/{task_id}/complete"),
    ("post", "/api/tasks/{task_id}/fail"),
    ("post", "/api/tasks/complete/batch"),
    ("post", "/api/tasks/{task_id}/cancel"),
    ("post", "/api/tasks/{task_id}/retry"),
    ("get", "/api/workers"),
    ("get", "/api/workers/{worker_id}/stats"),
    ("get", "/api/stats"),
    ("put", "/api/task-types/{name}"),
    ("get", "/api/task-types"),
    ("get", "/api/task-types/{name}"),
}


def test_health_says_ok(api: TestClient) -> None:
    response = api.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


def test_health_is_503_when_the_database_cannot_be_opened(
    tmp_path: Path, clock: ManualClock
) -> None:
    # A directory is not a database file: every connection attempt fails.
    settings = Settings(database_url=f"sqlite:///{tmp_path}", migrate_on_start=False)
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as api:
        response = api.get("/api/health")
        assert response.status_code == 503
        assert response.json()["database"] == "unavailable"
        failed = api.get("/api/tasks")
        assert failed.status_code == 503
        assert set(failed.json()) == {"error", "message", "details"}
        assert failed.json()["error"] == "unavailable"


def test_a_pool_held_busy_answers_503_not_500(make_api: MakeApi) -> None:
    api = make_api(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.2)
    with api.app.state.store.engine.connect():  # type: ignore[attr-defined]
        for path in ("/api/tasks", "/api/health"):
            response = api.get(path)
            assert response.status_code == 503, (path, response.text)
        assert api.get("/api/tasks").json()["error"] == "unavailable"
    assert api.get("/api/health").status_code == 200


def test_a_pool_of_one_still_serves_reads_after_writes(make_api: MakeApi) -> None:
    api = make_api(db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.2)
    for _ in range(3):
        assert api.post("/api/tasks", json={"type": "job"}).status_code == 201
        listed = api.get("/api/tasks")
        assert listed.status_code == 200, listed.text
    assert len(listed.json()["tasks"]) == 3
    assert api.get("/api/health").status_code == 200


def operations(api: TestClient) -> set[tuple[str, str]]:
    document = api.get("/api/openapi.json").json()
    return {(method, path) for path, item in document["paths"].items() for method in item}


def test_openapi_lists_every_endpoint_of_the_contract(api: TestClient) -> None:
    assert operations(api) >= SPEC_ENDPOINTS


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def documented(ops: set[tuple[str, str]], method: str, url: str) -> bool:
    return any(m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), url) for m, p in ops)


def test_no_method_is_served_that_openapi_does_not_list(api: TestClient) -> None:
    ops = operations(api)
    for _, path in ops:
        url = concrete(path)
        for method in ("get", "post", "put", "patch", "delete"):
            if documented(ops, method, url):
                continue
            response = api.request(method.upper(), url, json={})
            assert response.status_code == 405, (method, url, response.status_code)


def test_every_documented_operation_is_served(api: TestClient) -> None:
    for method, path in operations(api):
        response = api.request(method.upper(), concrete(path), json={})
        assert response.status_code < 500, (method, path, response.text)
        assert response.status_code != 405, (method, path)
        if response.status_code == 404:
            # A missing resource names itself; only an unknown route has no details.
            assert response.json()["details"], (method, path)


def test_openapi_documents_error_bodies(api: TestClient) -> None:
    document = api.get("/api/openapi.json").json()
    complete = document["paths"]["/api/tasks/{task_id}/complete"]["post"]["responses"]
    assert {"200", "404", "409", "422"} <= set(complete)
    assert "ErrorBody" in document["components"]["schemas"]
