"""Where the busiest routes call the store: on the event loop for SQLite served by one process."""

from __future__ import annotations

import pytest

from taskmanager.server.settings import Settings

SQLITE = "sqlite:///tasks.db"


@pytest.fixture(autouse=True)
def _not_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKMANAGER_PROCESSES", raising=False)  # the suite sets it for its servers
    monkeypatch.delenv("TASKMANAGER_STORE_CALLS", raising=False)


def test_sqlite_served_by_one_process_calls_on_the_event_loop() -> None:
    assert Settings(database_url=SQLITE).store_on_event_loop(embedded=True)


def test_a_database_server_is_called_from_threads() -> None:
    settings = Settings(database_url="postgresql://db/tasks", processes=1)
    assert not settings.store_on_event_loop(embedded=False)


def test_several_processes_on_one_sqlite_file_call_from_threads() -> None:
    # Each may wait for another's write lock: its other requests must not wait with it.
    assert not Settings(database_url=SQLITE, processes=2).store_on_event_loop(embedded=True)


@pytest.mark.parametrize(("chosen", "on_loop"), [("event-loop", True), ("threads", False)])
@pytest.mark.parametrize("embedded", [True, False])
def test_a_choice_given_is_kept(
    monkeypatch: pytest.MonkeyPatch, chosen: str, on_loop: bool, embedded: bool
) -> None:
    monkeypatch.setenv("TASKMANAGER_STORE_CALLS", chosen)
    assert Settings(database_url=SQLITE, processes=3).store_on_event_loop(embedded) is on_loop


def test_an_unknown_choice_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKMANAGER_STORE_CALLS", "fibers")
    with pytest.raises(ValueError, match="store_calls"):
        Settings()
