"""Fixtures for the PHP worker's end-to-end tests: a real server on SQLite, `php` as a process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from taskmanager.client import Client
from tests.conftest import LiveServer, start_server

PHP_DIR = Path(__file__).resolve().parents[2] / "workers" / "php"
PHP = shutil.which("php")
# Settings a developer's shell may hold; each test gives the worker only what it means to.
WORKER_ENV = (
    "TASKMANAGER_API_URL",
    "TASKMANAGER_API_KEY",
    "WORKER_ID",
    "TASK_TYPES",
    "POLL_INTERVAL",
    "MAX_RUNS",
    "CONCURRENCY",
    "DEBUG",
    "MAX_CONSECUTIVE_ERRORS",
    "LOG_FORMAT",
)
WAIT_SECONDS = 30.0


def php_env(**env: str) -> dict[str, str]:
    """The environment of a PHP process: this one's, minus worker settings, plus `env`."""
    base = {k: v for k, v in os.environ.items() if k not in WORKER_ENV}
    return {**base, **env}


def run_php(
    script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `php SCRIPT ARGS` in workers/php to its end; output captured as text."""
    assert PHP is not None
    return subprocess.run(
        [PHP, script, *args],
        cwd=PHP_DIR,
        env=env if env is not None else php_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class WorkerProcess:
    """`php worker.php` running in the background, its log in a file."""

    process: subprocess.Popen[bytes]
    log_path: Path
    handles: list[Any] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int = signal.SIGTERM) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        return self.process.wait(timeout=timeout)

    def wait_for_log(self, text: str, timeout: float = WAIT_SECONDS) -> None:
        wait_until(lambda: text in self.log(), timeout, f"{text!r} in the worker's log")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for handle in self.handles:
            handle.close()


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it answers something true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = check()
        if answer:
            return answer
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="session")
def php_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server on its own SQLite database for these tests (the worker is under test)."""
    path = tmp_path_factory.mktemp("php-server")
    server = start_server(path, f"sqlite:///{path / 'php.db'}")
    yield server
    server.stop()


@pytest.fixture
def client(php_server: LiveServer) -> Iterator[Client]:
    """A client of the shared server, whose queue holds no claimable task left by another test."""
    with Client(php_server.api_url, timeout=10) as api:
        for status in ("pending", "processing"):
            for task in api.list_tasks(status=status, limit=500)["tasks"]:
                api.cancel_task(task["id"])
        yield api


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `php worker.php ARGS` in the background; every one is killed after the test."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        assert PHP is not None
        log_path = tmp_path / f"worker-{len(started)}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            [PHP, "worker.php", *args],
            cwd=PHP_DIR,
            env=env if env is not None else php_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        worker = WorkerProcess(process, log_path, [log])
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.kill()
