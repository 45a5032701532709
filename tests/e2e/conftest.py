"""Helpers for end-to-end tests: run the `taskmanager` command as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import LiveServer

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_cli(
    *args: str, api_url: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m taskmanager ARGS` in a subprocess; stdout and stderr captured as text."""
    env = {**os.environ}
    env.pop("TASKMANAGER_API_URL", None)
    env.pop("TASKMANAGER_DATABASE_URL", None)
    if api_url is not None:
        env["TASKMANAGER_API_URL"] = api_url
    return subprocess.run(
        [sys.executable, "-m", "taskmanager", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def cli(live_server: LiveServer) -> Cli:
    """Run the CLI against the live server."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, api_url=live_server.api_url)

    return run
