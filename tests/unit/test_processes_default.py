"""How many processes `taskmanager serve` runs when not told: by database and by machine."""

from __future__ import annotations

import pytest

from taskmanager.server import settings as settings_module
from taskmanager.server.settings import MAX_AUTO_PROCESSES, Settings

SERVER_URLS = ["postgresql://db/tasks", "mysql://db/tasks"]


@pytest.fixture(autouse=True)
def _not_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKMANAGER_PROCESSES", raising=False)  # the suite sets it for its servers


def test_sqlite_gets_one_process_whatever_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_usable_cpus", lambda: 16)
    assert Settings(database_url="sqlite:///tasks.db").server_processes() == 1


@pytest.mark.parametrize("url", SERVER_URLS)
@pytest.mark.parametrize(("cpus", "expected"), [(1, 1), (2, 2), (3, 3), (16, MAX_AUTO_PROCESSES)])
def test_a_database_server_gets_one_process_per_cpu_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch, url: str, cpus: int, expected: int
) -> None:
    monkeypatch.setattr(settings_module, "_usable_cpus", lambda: cpus)
    assert Settings(database_url=url).server_processes() == expected


def test_a_number_given_is_kept_on_any_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module, "_usable_cpus", lambda: 16)
    monkeypatch.setenv("TASKMANAGER_PROCESSES", "3")
    assert Settings(database_url="sqlite:///tasks.db").server_processes() == 3
    assert Settings(database_url=SERVER_URLS[0]).server_processes() == 3


def test_zero_processes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKMANAGER_PROCESSES", "0")
    with pytest.raises(ValueError, match="processes"):
        Settings()
