"""Shared fixtures: a migrated database, the app with an injected clock, a live server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import SQLStore, open_store
from tests.backends import (
    BACKENDS,
    counts_and_tasks,
    empty_tables,
    server_database,
    session_database,
)

# The servers the tests start run one process each, as the scenarios that kill or stop "the API"
# mean; the test of serve's own default clears this.
os.environ.setdefault("TASKMANAGER_PROCESSES", "1")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.close()
    return path


@pytest.fixture(scope="session")
def server_databases() -> Iterator[dict[str, str]]:
    """One fresh, migrated database per server backend for this test session."""
    with ExitStack() as stack:
        yield {
            backend: stack.enter_context(session_database(backend))
            for backend in BACKENDS
            if backend != "sqlite"
        }


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that touches a database runs once per backend: sqlite, mariadb, postgres."""
    name: str = request.param
    return name


@pytest.fixture
def db_url(
    backend: str, tmp_path: Path, migrated_template: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """An empty, migrated database of the backend under test.

    Afterwards, the counts the writes kept must match the tasks the test left: every write
    path of every test that used a database checks them.
    """
    if backend == "sqlite":
        path = tmp_path / "taskmanager.db"
        shutil.copy(migrated_template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("server_databases")[backend]
        empty_tables(url)
    yield url
    kept, counted = counts_and_tasks(url)
    assert kept == counted, "task_counts differs from the tasks table"


@pytest.fixture
def blank_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new database of the backend under test with no schema at all, not even Alembic's."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    with server_database(backend) as url:
        yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, migrate_on_start=False)


@pytest.fixture
def store(db_url: str, clock: ManualClock) -> Iterator[SQLStore]:
    store = open_store(db_url, clock=clock)
    assert isinstance(store, SQLStore)
    yield store
    store.close()


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> FastAPI:
    return create_app(settings, clock=clock)


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    """The real ASGI app, in process, on a copy of a migrated database, with a manual clock."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def self_signed(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) of a self-signed certificate for 127.0.0.1, made with openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@dataclass
class LiveServer:
    """A `taskmanager serve` process on its own port and database."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(tmp_path: Path, db_url: str, **env: str) -> LiveServer:
    """Start a real server process and wait until /api/health answers."""
    port = free_port()
    log_path = tmp_path / f"server-{port}.log"
    environment = {**os.environ, "TASKMANAGER_DATABASE_URL": db_url, **env}
    command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(server.api_url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not answer in time:\n{server.log()}")


@pytest.fixture
def live_server(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    server = start_server(tmp_path, db_url)
    yield server
    server.stop()
