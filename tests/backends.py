"""The databases the suite runs on: SQLite always, MariaDB and PostgreSQL when their URL is set.

`TASKMANAGER_TEST_MYSQL_URL` and `TASKMANAGER_TEST_POSTGRES_URL` name a server and an account
that may create databases; each test session makes its own database there, so that two test
runs on one machine never see each other's tasks, and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from taskmanager.storage import SQLStore, open_store
from taskmanager.storage.counts import read_counts
from taskmanager.storage.schema import metadata, tasks

SERVER_URLS = {
    "mariadb": os.environ.get("TASKMANAGER_TEST_MYSQL_URL", ""),
    "postgres": os.environ.get("TASKMANAGER_TEST_POSTGRES_URL", ""),
}
BACKENDS = ["sqlite", *(name for name, url in SERVER_URLS.items() if url)]


def _admin_engine_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        return parsed.set(drivername="mysql+pymysql").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def server_database(backend: str) -> Iterator[str]:
    """A new, empty database on the backend's server (no schema), dropped afterwards."""
    server_url = SERVER_URLS[backend]
    name = f"tm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(_admin_engine_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:
        raise RuntimeError(
            f"cannot reach the {backend} test server at {server_url!r} ({exc}); start it, or "
            f"run without it by setting that variable empty"
        ) from exc
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, backend, name)
        admin.dispose()


@contextmanager
def session_database(backend: str) -> Iterator[str]:
    """A new, migrated database on the backend's server, dropped afterwards."""
    with server_database(backend) as url:
        store = open_store(url)
        store.migrate()
        store.close()
        yield url


def _drop(admin: object, backend: str, name: str) -> None:
    from sqlalchemy import Engine

    assert isinstance(admin, Engine)
    with admin.connect() as conn:
        if backend == "postgres":
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        else:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))


def empty_tables(url: str) -> None:
    """Delete every row, leaving the migrated schema."""
    store = open_store(url)
    try:
        assert isinstance(store, SQLStore)
        with store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
    finally:
        store.close()


def counts_and_tasks(url: str) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """The counts the writes kept, and the same counted from the tasks table."""
    store = open_store(url)
    try:
        assert isinstance(store, SQLStore)
        with store.engine.connect() as conn:
            kept = read_counts(conn).by_type
            query = select(tasks.c.type, tasks.c.status, func.count()).group_by(
                tasks.c.type, tasks.c.status
            )
            counted = {(type_, status): int(n) for type_, status, n in conn.execute(query)}
    finally:
        store.close()
    return kept, counted
