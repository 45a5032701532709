"""SQLite's WAL is copied into the database file by a background thread, not by commits."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from taskmanager.models import TaskCreate
from taskmanager.storage import open_store
from taskmanager.storage.sqlite import CHECKPOINT_GUARD_PAGES, Checkpointer


def _checkpoint_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "sqlite-checkpoint")


def test_what_a_store_writes_reaches_the_database_file_in_the_background(tmp_path: Path) -> None:
    path = tmp_path / "tasks.db"
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        for _ in range(5):
            store.create_tasks([TaskCreate(type="wal.job")] * 500)
        # The connections leave checkpoints alone until the WAL is far bigger than this.
        with store.engine.connect() as conn:  # type: ignore[attr-defined]
            limit = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
        assert limit == CHECKPOINT_GUARD_PAGES
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _tasks_in_file(path) < 2500:
            time.sleep(0.1)
        assert _tasks_in_file(path) == 2500
    finally:
        store.close()


def _tasks_in_file(path: Path) -> int:
    """The tasks the database file itself holds, not counting those only in the WAL."""
    uri = f"file:{path}?mode=ro&immutable=1"  # immutable: read the file, never the WAL
    try:
        with sqlite3.connect(uri, uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0])
    except sqlite3.DatabaseError:  # the schema itself is still only in the WAL
        return 0


def test_closing_the_store_stops_its_checkpoints(tmp_path: Path) -> None:
    before = _checkpoint_threads()
    store = open_store(f"sqlite:///{tmp_path / 'tasks.db'}")
    assert _checkpoint_threads() == before + 1
    store.close()
    assert _checkpoint_threads() == before


def test_a_failed_checkpoint_is_tried_again(tmp_path: Path, monkeypatch: Any) -> None:
    calls: list[int] = []

    def locked(self: Checkpointer) -> None:
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Checkpointer, "checkpoint", locked)
    store = open_store(f"sqlite:///{tmp_path / 'tasks.db'}")
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) >= 2, "the checkpoint thread stopped after one failure"
    finally:
        store.close()
