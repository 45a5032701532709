"""The processes `taskmanager serve` and `Worker.run` own keep their start-up heap out of the
garbage collector's passes and space its young passes (`taskmanager.heap`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskmanager import heap
from taskmanager.server.app import app_from_env, create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import open_store
from taskmanager.worker.worker import run_event_loop


def _migrated(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/tasks.db")
    store.migrate()
    store.close()


@pytest.fixture
def thawed() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _settled() -> bool:
    return gc.get_freeze_count() > 10_000 and gc.get_threshold()[0] == heap.YOUNG_OBJECTS


def test_the_served_app_settles_once_started(
    thawed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKMANAGER_DATABASE_URL", f"sqlite:///{tmp_path}/tasks.db")
    monkeypatch.setenv("TASKMANAGER_ALLOW_ANONYMOUS", "true")
    _migrated(tmp_path)
    app = app_from_env()
    assert not _settled()
    with TestClient(app) as client:
        assert _settled()
        assert client.get("/api/health").status_code == 200


def test_an_app_built_for_another_host_process_leaves_the_collector_alone(
    thawed: None, tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", allow_anonymous=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold()[0] != heap.YOUNG_OBJECTS


def test_the_worker_s_event_loop_settles_before_it_runs(thawed: None) -> None:
    async def main() -> bool:
        return _settled()

    assert run_event_loop(main())
