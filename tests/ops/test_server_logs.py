"""`serve --log-format json`: every line the server writes is one JSON object."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.conftest import start_server


def test_json_logs_cover_server_and_access_lines(tmp_path: Path) -> None:
    server = start_server(
        tmp_path, f"sqlite:///{tmp_path / 'logs.db'}", TASKMANAGER_LOG_FORMAT="json"
    )
    try:
        httpx.post(server.api_url + "/tasks", json={"type": "log.me"}, timeout=10)
    finally:
        server.stop()
    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    access = [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    created = [entry for entry in access if entry.get("path") == "/api/tasks"]
    assert created and created[0]["method"] == "POST" and created[0]["status"] == 201
    assert any(entry["logger"] == "taskmanager.server" for entry in entries)


def test_the_log_level_applies_to_the_access_log_too(tmp_path: Path) -> None:
    lines = {}
    for level in ("info", "warning"):
        server = start_server(
            tmp_path, f"sqlite:///{tmp_path / (level + '.db')}", TASKMANAGER_LOG_LEVEL=level
        )
        try:
            httpx.post(server.api_url + "/tasks", json={"type": "log.me"}, timeout=10)
        finally:
            server.stop()
        lines[level] = [line for line in server.log().splitlines() if "POST /api/tasks" in line]
    assert len(lines["info"]) == 1
    assert lines["warning"] == []
