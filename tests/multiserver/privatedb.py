"""Private database servers that a test may crash: never the machine's shared ones.

Each lives in its own temporary directory, on its own port on 127.0.0.1, with durable settings
(fsync on, commits flushed), and is killed and removed at the end whatever happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text

from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
MARIADBD = Path("/usr/sbin/mariadbd")
DATABASE = "tm"


class PrivateDatabase(Protocol):
    url: str

    def start(self) -> None: ...
    def crash(self) -> None: ...
    def destroy(self) -> None: ...


def _wait_until_it_answers(admin_url: str, seconds: float = 30) -> None:
    engine = create_engine(admin_url, connect_args={"connect_timeout": 1})
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
    finally:
        engine.dispose()


def _create_database(admin_url: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {DATABASE}"))
    finally:
        engine.dispose()


class PrivatePostgres:
    """A PostgreSQL cluster run by the `postgres` OS user (initdb refuses to run as root)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tm-pg-"))
        shutil.chown(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
        self._admin = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        try:
            self._as_postgres(PG_BIN / "initdb", "-D", self.data, "--auth=trust", "-U", "postgres")
            self.start()
            _create_database(self._admin)
        except BaseException:
            self.destroy()
            raise

    def _as_postgres(self, *command: object) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def _pg_ctl(self, *args: str) -> None:
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-w", *args)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir}"
        self._pg_ctl("-l", str(self.dir / "server.log"), "-o", options, "start")
        _wait_until_it_answers(self._admin)

    def crash(self) -> None:
        """Stop at once, without a checkpoint: what a power cut leaves behind."""
        self._pg_ctl("-m", "immediate", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class PrivateMariaDB:
    """A mariadbd on its own data directory; crashed with SIGKILL."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tm-maria-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"mysql://root@127.0.0.1:{self.port}/{DATABASE}"
        self._admin = f"mysql+pymysql://root@127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None
        try:
            self._install()
            self.start()
            _create_database(self._admin)
        except BaseException:
            self.destroy()
            raise

    def _install(self) -> None:
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={self.data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        command = [
            str(MARIADBD),
            "--no-defaults",
            f"--datadir={self.data}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.dir / 'mysqld.sock'}",
            f"--pid-file={self.dir / 'mysqld.pid'}",
            f"--log-error={self.dir / 'error.log'}",
            "--user=root",
            "--innodb-buffer-pool-size=64M",
            "--innodb-flush-log-at-trx-commit=1",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
        )
        _wait_until_it_answers(self._admin)

    def crash(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def destroy(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def private_database(backend: str) -> PrivateDatabase:
    """A fresh private server of this backend, with an empty database `tm`."""
    if backend == "postgres":
        return PrivatePostgres()
    if backend == "mariadb":
        return PrivateMariaDB()
    raise ValueError(f"no private server for {backend}")
