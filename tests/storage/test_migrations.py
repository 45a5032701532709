"""Upgrades keep what a database holds: tasks written at each old revision, read at head."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import SQLStore, open_store
from taskmanager.storage.engine import migrate
from taskmanager.storage.schema import metadata

OLD_REVISIONS = ["0001", "0002", "0003", "0004", "0005"]
BEFORE = datetime(2029, 12, 31, 12, 0, 0, 123456)  # before the manual clock's start
LONG_ERROR = "é" * 30_000  # over TEXT's 65,535 bytes once widened, as 0005 allows

# The tasks of revision 0001, as a program of that time wrote them: plain SQL, no metadata.
INSERT_0001 = text(
    "INSERT INTO tasks (id, type, status, params, priority, created_at, run_at, completed_at,"
    " worker_id, result, error, attempts, max_attempts, idempotency_key)"
    " VALUES (:id, :type, :status, :params, :priority, :at, :at, :done, :worker, :result,"
    " :error, :attempts, 3, :key)"
)
OLD_TASKS: list[dict[str, Any]] = [
    {"id": "00000000-0000-4000-8000-000000000001", "status": "pending", "params": '{"n":1}',
     "priority": 5, "done": None, "worker": None, "result": None, "error": None,
     "attempts": 0, "key": "old-key"},
    {"id": "00000000-0000-4000-8000-000000000002", "status": "completed", "params": "{}",
     "priority": 0, "done": BEFORE, "worker": "w-old", "result": '{"ok":true}', "error": None,
     "attempts": 1, "key": None},
    {"id": "00000000-0000-4000-8000-000000000003", "status": "failed", "params": "{}",
     "priority": 0, "done": BEFORE, "worker": "w-old", "result": None, "error": "boom",
     "attempts": 3, "key": None},
]  # fmt: skip


def _engine(url: str) -> tuple[SQLStore, Engine]:
    store = open_store(url)
    assert isinstance(store, SQLStore)
    return store, store.engine


@contextmanager
def _api(url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=url, migrate_on_start=False)
    app = create_app(settings, clock=ManualClock())
    with TestClient(app, raise_server_exceptions=False) as api:
        yield api


def _differences(engine: Engine) -> list[Any]:
    """What differs between the migrated database and the schema the code queries."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _write_old_tasks(engine: Engine) -> None:
    with engine.begin() as conn:
        for task in OLD_TASKS:
            conn.execute(INSERT_0001, {**task, "type": "old.job", "at": BEFORE})


@pytest.mark.parametrize("revision", OLD_REVISIONS)
def test_tasks_written_at_an_old_revision_survive_the_upgrade(
    blank_db_url: str, revision: str
) -> None:
    store, engine = _engine(blank_db_url)
    try:
        migrate(engine, "0001")
        _write_old_tasks(engine)
        migrate(engine, revision)
        migrate(engine)
    finally:
        store.close()
    with _api(blank_db_url) as api:
        _the_api_reads_and_runs_the_old_tasks(api)


def _the_api_reads_and_runs_the_old_tasks(api: TestClient) -> None:
    listed = api.get("/api/tasks").json()["tasks"]
    assert sorted(task["id"] for task in listed) == [task["id"] for task in OLD_TASKS]
    pending, completed, failed = (api.get(f"/api/tasks/{t['id']}").json() for t in OLD_TASKS)
    assert pending["params"] == {"n": 1} and pending["idempotency_key"] == "old-key"
    assert pending["created_at"] == "2029-12-31T12:00:00.123456Z"
    assert completed["result"] == {"ok": True} and completed["worker_id"] == "w-old"
    assert failed["error"] == "boom"
    claimed = api.post("/api/tasks/claim", json={"worker_id": "w-new"}).json()
    assert claimed["id"] == pending["id"] and claimed["attempts"] == 1
    body = {"error": LONG_ERROR, "retry": False, "lease_token": claimed["lease_token"]}
    assert api.post(f"/api/tasks/{claimed['id']}/fail", json=body).status_code == 200
    assert api.get(f"/api/tasks/{claimed['id']}").json()["error"] == LONG_ERROR
    retried = api.post(f"/api/tasks/{failed['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert api.get("/api/stats").json()["totals"]["pending"] == 1


def test_a_database_created_as_latin1_holds_exact_unicode_identifiers(
    blank_db_url: str, backend: str
) -> None:
    store, engine = _engine(blank_db_url)
    try:
        if backend == "mariadb":
            with engine.begin() as conn:
                conn.execute(text("ALTER DATABASE CHARACTER SET latin1 COLLATE latin1_swedish_ci"))
        migrate(engine)
        assert _differences(engine) == []
    finally:
        store.close()
    with _api(blank_db_url) as api:
        for key in ("Zoë-\U0001f600", "zoë-\U0001f600", "zoë-\U0001f601"):
            created = api.post("/api/tasks", json={"type": "t", "idempotency_key": key})
            assert created.status_code == 201, created.text
            assert api.get(f"/api/tasks/{created.json()['id']}").json()["idempotency_key"] == key
        claimed = api.post("/api/tasks/claim", json={"worker_id": "wörker-\U0001f916"}).json()
        assert claimed["worker_id"] == "wörker-\U0001f916"


def test_the_migrations_build_the_schema_the_code_queries(blank_db_url: str) -> None:
    store, engine = _engine(blank_db_url)
    try:
        migrate(engine)
        differences = _differences(engine)
    finally:
        store.close()
    assert differences == []
