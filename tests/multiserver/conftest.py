"""Several API server processes on one database: two on MariaDB and PostgreSQL, one on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer, start_server

# Quiet servers: the access log of thousands of requests only slows a 2-core machine down.
QUIET = {"TASKMANAGER_LOG_LEVEL": "warning"}

StartServers = Callable[..., list[LiveServer]]


def server_count(backend: str) -> int:
    """SQLite scales up, not out: its scenarios run one API process."""
    return 1 if backend == "sqlite" else 2


@pytest.fixture
def start_servers(tmp_path: Path, db_url: str) -> Iterator[StartServers]:
    """Start `count` API processes on the test's database; all are stopped at the end."""
    started: list[LiveServer] = []

    def start(count: int, **env: str) -> list[LiveServer]:
        for _ in range(count):
            started.append(start_server(tmp_path, db_url, **{**QUIET, **env}))
        return started[-count:]

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def servers(backend: str, start_servers: StartServers) -> list[LiveServer]:
    """The scenario layout: two API processes sharing the database, one on SQLite."""
    return start_servers(server_count(backend))
