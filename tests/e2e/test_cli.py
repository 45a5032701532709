"""The `taskmanager` command as a user runs it, against a real server process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.conftest import free_port, start_server
from tests.e2e.conftest import Cli, run_cli


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _create(cli: Cli, *extra: str) -> dict[str, Any]:
    task: dict[str, Any] = _json(
        cli("tasks", "create", "example.echo", "--params", '{"message": "hi"}', "--json", *extra)
    )
    return task


def _assert_clean_error(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    return lines


def test_help_lists_the_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    commands = result.stdout.split("Commands:", 1)[1].split()
    for name in ("serve", "migrate", "tasks", "stats"):
        assert name in commands


def test_version_is_the_installed_package_s() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"taskmanager, version {version('taskmanager')}"


def test_create_then_get_shows_the_same_task(cli: Cli) -> None:
    created = _create(cli, "--priority", "5", "--max-attempts", "4")
    assert created["type"] == "example.echo"
    assert created["params"] == {"message": "hi"}
    assert created["status"] == "pending"
    assert created["priority"] == 5
    assert created["max_attempts"] == 4
    assert _json(cli("tasks", "get", created["id"], "--json")) == created
    shown = cli("tasks", "get", created["id"])
    assert shown.returncode == 0
    assert created["id"] in shown.stdout
    assert "example.echo" in shown.stdout


def test_list_filters_by_status(cli: Cli) -> None:
    kept = _create(cli)
    cancelled = _create(cli)
    _json(cli("tasks", "cancel", cancelled["id"], "--json"))
    page = _json(cli("tasks", "list", "--status", "pending", "--json"))
    assert [task["id"] for task in page["tasks"]] == [kept["id"]]
    page = _json(cli("tasks", "list", "--status", "cancelled", "--json"))
    assert [task["id"] for task in page["tasks"]] == [cancelled["id"]]


def test_cancel_then_retry_brings_the_task_back(cli: Cli) -> None:
    task = _create(cli)
    cancelled = _json(cli("tasks", "cancel", task["id"], "--json"))
    assert cancelled["status"] == "cancelled"
    again = cli("tasks", "cancel", task["id"], "--json")
    assert "already cancelled" in _assert_clean_error(again)[0]
    retried = _json(cli("tasks", "retry", task["id"], "--json"))
    assert retried["status"] == "pending"
    assert retried["attempts"] == 0
    assert _json(cli("tasks", "get", task["id"], "--json"))["status"] == "pending"


def test_stats_counts_tasks_by_status(cli: Cli) -> None:
    for _ in range(3):
        _create(cli)
    _json(cli("tasks", "cancel", _create(cli)["id"], "--json"))
    numbers = _json(cli("stats", "--json"))
    assert numbers["totals"]["pending"] == 3
    assert numbers["totals"]["cancelled"] == 1
    assert {"type": "example.echo", "status": "pending", "count": 3} in numbers["depth"]


def test_errors_are_readable_lines(cli: Cli) -> None:
    unknown = cli("tasks", "get", "00000000-0000-0000-0000-000000000000", "--json")
    lines = _assert_clean_error(unknown)
    assert len(lines) == 1
    assert "not_found" in lines[0]
    bad_type = cli("tasks", "create", "bad type!", "--json")
    assert "validation_error" in _assert_clean_error(bad_type)[0]
    not_json = cli("tasks", "create", "example.echo", "--params", "not json")
    assert not_json.returncode == 2
    assert "--params" in not_json.stderr
    assert "Traceback" not in not_json.stderr
    assert _json(cli("tasks", "list", "--json"))["tasks"] == []


def test_unreachable_api_exits_with_a_hint() -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    result = run_cli("tasks", "list", "--json", api_url=url)
    lines = _assert_clean_error(result)
    assert "cannot reach" in lines[0]
    assert "taskmanager serve" in result.stderr


def test_migrate_creates_a_usable_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "tasks.db"
    url = f"sqlite:///{path}"
    result = run_cli("migrate", "--database-url", url)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    assert {"tasks", "alembic_version"} <= tables
    again = run_cli("migrate", "--database-url", url)
    assert again.returncode == 0, again.stderr
    server = start_server(tmp_path, url, TASKMANAGER_MIGRATE_ON_START="false")
    try:
        task = _json(run_cli("tasks", "create", "example.echo", "--json", api_url=server.api_url))
        fetched = _json(run_cli("tasks", "get", task["id"], "--json", api_url=server.api_url))
        assert fetched["id"] == task["id"]
    finally:
        server.stop()
