"""Engines per backend, migrations, and the one place driver errors are translated."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from taskmanager.errors import Unavailable, ValidationFailed

log = logging.getLogger("taskmanager.storage")

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE = "taskmanager_write"  # execution option: this transaction will write

# Errors after which the whole transaction may simply run again.
_RETRYABLE_MYSQL = {1205, 1213}  # lock wait timeout, deadlock
_RETRYABLE_POSTGRES = {"40001", "40P01"}  # serialization failure, deadlock


@dataclass(frozen=True)
class EngineOptions:
    """Connection settings; each backend uses the ones that apply to it."""

    pool_size: int = 10
    max_overflow: int = 20
    pool_timeout_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    sqlite_synchronous: str = "NORMAL"
    sqlite_busy_timeout_ms: int = 30000


def server_engine(url: URL, options: EngineOptions, connect_args: dict[str, Any]) -> Engine:
    """An engine for a database server: READ COMMITTED, a checked pool sized by the options."""
    return create_engine(
        url,
        isolation_level="READ COMMITTED",
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout_seconds,
        pool_pre_ping=True,  # a database that restarted is noticed before a request fails
        pool_recycle=3600,
        connect_args={
            "connect_timeout": int(max(1, options.connect_timeout_seconds)),
            **connect_args,
        },
    )


def backend_of(url: str) -> str:
    """The backend a database URL names: sqlite, mysql or postgresql."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("mysql", "mariadb"):
        return "mysql"
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    raise ValidationFailed(
        f"unsupported database URL scheme {scheme!r}: use sqlite://, mysql:// or postgresql://"
    )


def make_engine(url: str, options: EngineOptions | None = None) -> Engine:
    """An engine for the URL, set up for this backend's way of being safe under concurrency."""
    from taskmanager.storage import mysql, postgres, sqlite

    options = options or EngineOptions()
    factory = {"sqlite": sqlite.create, "mysql": mysql.create, "postgresql": postgres.create}
    try:
        return factory[backend_of(url)](url, options)
    except ValueError as exc:  # sqlalchemy.exc.ArgumentError included
        raise ValidationFailed(f"invalid database URL: {exc}") from None


def require_driver(module: str, extra: str) -> None:
    """Say how to install a missing database driver, instead of an ImportError."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ValidationFailed(
            f"the {module} driver is not installed: pip install 'taskmanager[{extra}]'"
        )


def is_retryable(exc: DBAPIError) -> bool:
    """Whether a failed transaction lost a race (deadlock, lock timeout) and may run again."""
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL:
        return True
    return getattr(orig, "sqlstate", None) in _RETRYABLE_POSTGRES


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn a database that cannot be reached, or no free connection, into `Unavailable`."""
    try:
        yield
    except PoolTimeout as exc:
        log.warning("no free database connection: %s", exc)
        raise Unavailable(
            "every database connection is busy; try again shortly", {"reason": "pool_timeout"}
        ) from exc
    except OperationalError as exc:
        log.warning("database unavailable: %s", exc.orig)
        raise Unavailable(
            "the database is unavailable", {"reason": type(exc.orig).__name__}
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise Unavailable("the database connection was lost") from exc
        raise


_MIGRATION_LOCK = {
    "postgresql": ("SELECT pg_advisory_lock(7212)", "SELECT pg_advisory_unlock(7212)"),
    "mysql": (
        "SELECT GET_LOCK('taskmanager_migrate', 120)",
        "SELECT RELEASE_LOCK('taskmanager_migrate')",
    ),
    "mariadb": (
        "SELECT GET_LOCK('taskmanager_migrate', 120)",
        "SELECT RELEASE_LOCK('taskmanager_migrate')",
    ),
}


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest revision; concurrent starts wait for each other."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    lock = _MIGRATION_LOCK.get(engine.dialect.name)
    with translate_errors(), engine.connect() as conn:
        if lock is None:  # SQLite: BEGIN IMMEDIATE serializes the migrating processes
            conn.execution_options(**{WRITE: True})
        else:
            conn.execute(text(lock[0]))
            conn.commit()
        try:
            with conn.begin():
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
        finally:
            if lock is not None:
                conn.execute(text(lock[1]))
                conn.commit()
