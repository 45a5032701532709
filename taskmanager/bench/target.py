"""The server under test: a `taskmanager serve` subprocess on a free port with its own database."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from taskmanager.errors import TaskManagerError
from taskmanager.storage.engine import backend_of

START_TIMEOUT_SECONDS = 60.0


class BenchError(Exception):
    """Something the user can fix: the message says what."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _driver_url(url: str) -> str:
    backend = backend_of(url)
    if backend == "postgresql":
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if backend == "mysql":
        return "mysql+pymysql://" + url.split("://", 1)[1]
    return url


@contextlib.contextmanager
def scratch_database(url: str | None, workdir: Path) -> Iterator[str]:
    """A database of its own for one run: a new SQLite file, or a new database created on the
    server that `url` names (dropped afterwards; the database in `url` itself is not touched)."""
    try:
        backend = "sqlite" if url is None else backend_of(url)
    except TaskManagerError as exc:
        raise BenchError(f"--database-url: {exc.message}") from None
    if url is None or backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    name = f"taskmanager_bench_{secrets.token_hex(4)}"
    admin = create_engine(_driver_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise BenchError(f"--database-url: cannot create a scratch database: {exc}") from None
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()


class Server:
    """`taskmanager serve` in a subprocess, stopped (with its children) on exit."""

    def __init__(self, database_url: str, processes: int | None, workdir: Path) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log_path = workdir / "server.log"
        command = [sys.executable, "-m", "taskmanager", "serve", "--port", str(self.port)]
        if processes is not None:
            command += ["--workers", str(processes)]
        env = {
            **os.environ,
            "TASKMANAGER_DATABASE_URL": database_url,
            "TASKMANAGER_LOG_LEVEL": "warning",
            "TASKMANAGER_HOST": "127.0.0.1",
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self) -> None:
        """Until `GET /health` answers 200; BenchError with the server's log if it never does."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise BenchError(f"the server did not start:\n{tail}")

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its processes."""
        return sum(_rss(pid) for pid in _tree(self.process.pid))

    def cpu_seconds(self) -> float:
        """CPU time the server and all its processes have used so far."""
        return cpu_seconds(_tree(self.process.pid))

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def _tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                pending.extend(int(child) for child in children)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes (those that are gone count 0)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _rss(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def running_server(
    api_url: str | None, database_url: str | None, processes: int | None
) -> Iterator[tuple[str, Server | None]]:
    """The API to measure: the one at `api_url`, or a fresh server with a scratch database."""
    if api_url is not None:
        yield api_url.rstrip("/"), None
        return
    with (
        tempfile.TemporaryDirectory(prefix="taskmanager-bench-") as tmp,
        scratch_database(database_url, Path(tmp)) as url,
    ):
        server = Server(url, processes, Path(tmp))
        try:
            server.wait_ready()
            yield server.api_url, server
        finally:
            server.stop()
