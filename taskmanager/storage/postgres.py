"""PostgreSQL: psycopg 3, READ COMMITTED, and LISTEN/NOTIFY to wake long polls everywhere."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from taskmanager.storage.engine import EngineOptions, require_driver, server_engine

log = logging.getLogger("taskmanager.storage")

CHANNEL = "taskmanager_tasks"


def create(url: str, options: EngineOptions) -> Engine:
    """An engine on the psycopg driver, its pool sized by the options."""
    require_driver("psycopg", "postgres")
    # A database that stops answering mid-query (a dead host, a cut network) must not hold a
    # request forever: TCP keepalives and a user timeout break such a connection in ~30 s.
    network = {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30000,
    }
    return server_engine(make_url(url).set(drivername="postgresql+psycopg"), options, network)


def durability_warnings(settings: dict[str, str]) -> list[str]:
    """What may lose acknowledged tasks in a crash, given `fsync` and `synchronous_commit`."""
    warnings = []
    if settings.get("fsync", "on").lower() != "on":
        warnings.append(
            f"fsync is {settings['fsync']}: a crash may corrupt the database; set it on"
        )
    if settings.get("synchronous_commit", "on").lower() in ("off", "local"):
        value = settings["synchronous_commit"]
        warnings.append(
            f"synchronous_commit is {value}: a crash may lose acknowledged tasks; set it on"
        )
    return warnings


def check_server(conn: Connection) -> list[str]:
    """Warn when the server may lose acknowledged commits."""
    names = ("fsync", "synchronous_commit")
    return durability_warnings(
        {name: str(conn.execute(text(f"SHOW {name}")).scalar_one()) for name in names}
    )


def notify_sql() -> str:
    """The statement that, run inside a creating transaction, wakes listeners at commit."""
    return f"SELECT pg_notify('{CHANNEL}', :task_type)"


class Listener:
    """A thread that LISTENs on its own connection and reports each notified task type."""

    def __init__(self, engine: Engine, notify: Callable[[str | None, int], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._notify = notify
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                log.warning("LISTEN connection lost (%s); retrying", exc)
                # Wake everyone once: a notification may have been missed meanwhile.
                self._notify(None, 1_000_000)
                self._stop.wait(1.0)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self._notify(note.payload or None, 1)
