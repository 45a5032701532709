"""One worker.conf serves both workers: every key the Python worker knows, PHP accepts."""

from __future__ import annotations

import sys
from pathlib import Path

import certifi
import pytest

from taskmanager.client import Client
from taskmanager.worker.config import OPTIONS
from tests.conftest import LiveServer
from tests.php.conftest import PHP, php_env, run_php
from tests.worker.conftest import run_script

pytestmark = pytest.mark.skipif(PHP is None, reason="php is not installed (.ci/run installs it)")


def shared_file(tmp_path: Path, api_url: str) -> Path:
    values = {
        "TASKMANAGER_API_URL": api_url,
        "WORKER_ID": "shared",
        "TASK_TYPES": "example.echo",
        "POLL_INTERVAL": "1",
        "MAX_RUNS": "1",
        "CONCURRENCY": "4",
        "TASKMANAGER_API_KEY": "",  # this server has no keys: empty counts as unset
        "DEBUG": "false",
        "MAX_CONSECUTIVE_ERRORS": "5",
        "LOG_FORMAT": "text",
        "TASKMANAGER_CA_BUNDLE": certifi.where(),  # unused on http://, checked all the same
    }
    assert set(values) == {option.env for option in OPTIONS}  # a new Python key belongs here
    path = tmp_path / "worker.conf"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def test_one_file_for_both_workers(php_server: LiveServer, client: Client, tmp_path: Path) -> None:
    conf = shared_file(tmp_path, php_server.api_url)
    ids = [client.create_task("example.echo", {"message": n})["id"] for n in ("py", "php")]

    python = run_script(sys.executable, "-m", "taskmanager", "worker", f"--config={conf}", env={})
    php = run_php("worker.php", f"--config={conf}", env=php_env())

    assert python.returncode == 0, python.stderr
    assert php.returncode == 0, php.stderr
    tasks = [client.get_task(task_id) for task_id in ids]
    assert [(t["status"], t["worker_id"]) for t in tasks] == [("completed", "shared")] * 2
    assert "CONCURRENCY is 4, but the PHP worker runs one task at a time per process" in php.stderr
    assert "start 4 worker processes" in php.stderr
    assert "PHP Warning" not in php.stderr and "PHP: " not in php.stderr
