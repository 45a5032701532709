"""The process `taskmanager serve` starts keeps its start-up heap out of full collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskmanager.server.app import app_from_env, create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import open_store


def _migrated(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/tasks.db")
    store.migrate()
    store.close()


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_served_app_freezes_what_start_up_built(
    thawed: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKMANAGER_DATABASE_URL", f"sqlite:///{tmp_path}/tasks.db")
    monkeypatch.setenv("TASKMANAGER_ALLOW_ANONYMOUS", "true")
    _migrated(tmp_path)
    app = app_from_env()
    assert gc.get_freeze_count() == 0
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/api/health").status_code == 200


def test_an_app_built_for_another_host_process_leaves_the_collector_alone(
    thawed: None, tmp_path: Path
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/tasks.db", allow_anonymous=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").status_code == 200
        assert gc.get_freeze_count() == 0
