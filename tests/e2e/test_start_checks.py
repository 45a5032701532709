"""`serve` and `migrate` refuse what they cannot use before they touch the schema."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from taskmanager.cli import main
from taskmanager.storage import SQLStore, mysql, open_store
from tests.backends import BACKENDS
from tests.conftest import free_port


def _tables(url: str) -> list[str]:
    store = open_store(url)
    assert isinstance(store, SQLStore)
    try:
        return inspect(store.engine).get_table_names()
    finally:
        store.close()


def _run(monkeypatch: pytest.MonkeyPatch, command: str, url: str) -> Result:
    served: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: served.append(args))
    monkeypatch.setenv("TASKMANAGER_DATABASE_URL", url)
    result = CliRunner().invoke(main, [command])
    assert served == [], "the server started"
    return result


@pytest.mark.parametrize("command", ["serve", "migrate"])
# The only refusal by version is MariaDB/MySQL's; empty when the suite leaves MariaDB out.
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "mariadb"], indirect=True)
def test_a_too_old_mariadb_is_refused_before_any_table_is_made(
    backend: str, blank_db_url: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server on this machine is new enough: raise the bar above it instead.
    monkeypatch.setattr(mysql, "MIN_MARIADB", (99, 0))
    result = _run(monkeypatch, command, blank_db_url)
    assert result.exit_code != 0
    assert "too old" in result.output and "99.0" in result.output
    assert _tables(blank_db_url) == []


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize("scheme", ["mysql", "postgresql"])
def test_a_database_that_is_down_at_start_is_named(
    scheme: str, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{scheme}://nobody@127.0.0.1:{free_port()}/tasks"
    result = _run(monkeypatch, command, url)
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"error: cannot reach the database {scheme}://nobody@127.0.0.1")
    assert "Traceback" not in result.output
    assert "taskmanager serve" not in result.output  # the hint for an unreachable API
