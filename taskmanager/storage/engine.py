"""Engines per backend, transactions, migrations, and the one place driver errors are translated."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from taskmanager.errors import Unavailable, ValidationFailed

log = logging.getLogger("taskmanager.storage")

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE = "taskmanager_write"


def backend_of(url: str) -> str:
    """The backend a database URL names: sqlite, mysql or postgresql."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme in ("sqlite",):
        return "sqlite"
    if scheme in ("mysql", "mariadb"):
        return "mysql"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ValidationFailed(
        f"unsupported database URL scheme {scheme!r}: use sqlite://, mysql:// or postgresql://"
    )


def make_engine(url: str, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 30000) -> Engine:
    """An engine for the URL, set up for this backend's way of being safe under concurrency."""
    backend = backend_of(url)
    if backend != "sqlite":
        raise ValidationFailed(f"the {backend} backend is not available in this build")
    return _sqlite_engine(url, synchronous, busy_timeout_ms)


def _sqlite_engine(url: str, synchronous: str, busy_timeout_ms: int) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        pool_size=10,
        max_overflow=30,
        pool_timeout=30,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun by us (below), so that writes can take the lock up front.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock at once: no deadlock on upgrade from reader.
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn a database that cannot be reached into `Unavailable`; nothing else is hidden."""
    try:
        yield
    except OperationalError as exc:
        log.warning("database unavailable: %s", exc.orig)
        raise Unavailable(
            "the database is unavailable", {"reason": type(exc.orig).__name__}
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable("the database connection was lost") from exc
        raise


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, holding the write lock so starts do not race."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with translate_errors(), engine.connect() as conn:
        conn.execution_options(**{WRITE: True})
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
