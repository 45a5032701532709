"""Helpers for worker tests: the real loop against the in-process app, and real processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskmanager.client import AsyncClient
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.worker import Worker, WorkerConfig, resilience
from tests.conftest import LiveServer

ROOT = Path(__file__).resolve().parents[2]
WORKERS_DIR = ROOT / "workers" / "python"
WORKER_ENV_NAMES = (
    "TASKMANAGER_API_URL",
    "WORKER_ID",
    "TASK_TYPES",
    "POLL_INTERVAL",
    "MAX_RUNS",
    "CONCURRENCY",
    "TASKMANAGER_API_KEY",
    "DEBUG",
    "MAX_CONSECUTIVE_ERRORS",
    "LOG_FORMAT",
)


def wait_until(condition: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    """Poll `condition` until it is truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


# -- in process ----------------------------------------------------------------------------------


class FlakyTransport(httpx.AsyncBaseTransport):
    """The app's transport, refusing connections while `down` (as a dead API would)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class InProcess:
    """The real app in this process (real clock) and a way to run a worker against it."""

    settings: Settings
    app: Any = None
    transport: FlakyTransport | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    async def run(
        self,
        worker: Worker,
        config: WorkerConfig,
        during: Callable[[AsyncClient], Awaitable[None]] | None = None,
        timeout: float = 30.0,
    ) -> int:
        """Run `worker` until it exits (and `during` alongside it); returns its exit status."""
        async with self.app.router.lifespan_context(self.app), self.client() as client:
            running = asyncio.create_task(worker.run_async(config, client=client))
            if during is not None:
                await during(client)
            async with asyncio.timeout(timeout):
                return await running

    def client(self) -> AsyncClient:
        assert self.transport is not None
        return AsyncClient("http://app/api", transport=self.transport)


@pytest.fixture
def inprocess(db_url: str) -> InProcess:
    settings = Settings(database_url=db_url, migrate_on_start=False)
    world = InProcess(settings)
    world.app = create_app(settings)
    world.transport = FlakyTransport(httpx.ASGITransport(app=world.app))
    return world


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry after milliseconds instead of seconds, so that error paths run quickly."""
    monkeypatch.setattr(resilience, "BACKOFF_BASE_SECONDS", 0.01)
    monkeypatch.setattr(resilience, "BACKOFF_CAP_SECONDS", 0.05)


def config(**values: Any) -> WorkerConfig:
    """A config for in-process runs: quick polls, a fixed id."""
    defaults: dict[str, Any] = {
        "api_url": "http://app/api",
        "worker_id": "test-worker",
        "poll_interval": 0.5,
    }
    return WorkerConfig(**{**defaults, **values})


# -- processes -----------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int = signal.SIGTERM) -> None:
        self.process.send_signal(number)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker did not exit in {timeout} s:\n{self.log()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def clean_env(**env: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in WORKER_ENV_NAMES}
    return {**base, **env}


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `taskmanager worker ARGS` (or a script) as a process; all are killed at the end."""
    started: list[WorkerProcess] = []

    def start(
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        script: Path | None = None,
    ) -> WorkerProcess:
        command = (
            [sys.executable, str(script)]
            if script
            else [sys.executable, "-m", "taskmanager", "worker"]
        )
        log_path = tmp_path / f"worker-{len(started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(**(env or {})),
                cwd=cwd or tmp_path,
            )
        started.append(WorkerProcess(process, log_path))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


def run_script(
    *command: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, output captured as text."""
    return subprocess.run(
        list(command),
        capture_output=True,
        text=True,
        env=clean_env(**env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def serve_on(tmp_path: Path, db_url: str, port: int) -> LiveServer:
    """`taskmanager serve` on a given port (to restart an API where its workers expect it)."""
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    env = {**os.environ, "TASKMANAGER_DATABASE_URL": db_url}
    command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        try:
            return httpx.get(server.api_url + "/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(healthy, timeout=30, what="the server to answer")
    except AssertionError:
        server.stop()
        raise
    return server
