"""Fixtures for reliability scenarios: servers with tuned settings, always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveServer, start_server

StartServer = Callable[..., LiveServer]


@pytest.fixture
def server_with(tmp_path: Path, db_url: str) -> Iterator[StartServer]:
    """Start a live server on the test's database with extra TASKMANAGER_* settings."""
    started: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        server = start_server(tmp_path, db_url, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
