"""SQLite: WAL, BEGIN IMMEDIATE for every write so writers queue instead of deadlocking, and
checkpoints in the background."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from taskmanager.errors import ValidationFailed
from taskmanager.storage import bulk
from taskmanager.storage.engine import WRITE, EngineOptions

log = logging.getLogger("taskmanager.storage")

# A checkpoint copies the WAL's pages into the database file and syncs both. SQLite runs one
# in the commit that takes the WAL past 1,000 pages, so every few batches a request paid for
# it; `Checkpointer` runs them in a thread instead. A commit still runs one past this many
# pages (about 40 MB), should the thread fall behind or not run at all.
CHECKPOINT_GUARD_PAGES = 10_000
CHECKPOINT_INTERVAL_SECONDS = 0.25

# UPDATE ... FROM, which writes the rows of a claim or a completion with one statement.
OLDEST_SQLITE = (3, 33, 0)


def refusal(version: tuple[int, int, int]) -> str | None:
    """Why this SQLite library cannot hold the tasks, or None."""
    if version >= OLDEST_SQLITE:
        return None
    have, need = ".".join(map(str, version)), ".".join(map(str, OLDEST_SQLITE))
    return f"SQLite {need} or newer is needed; Python here uses SQLite {have}"


def create(url: str, options: EngineOptions) -> Engine:
    """An engine whose connections use WAL, a busy timeout, and explicit transactions."""
    reason = refusal(sqlite3.sqlite_version_info)
    if reason:
        raise ValidationFailed(reason)
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    busy_ms = options.sqlite_busy_timeout_ms
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout_seconds,
    )
    synchronous = options.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Transactions are begun by us (below), so that writes can take the lock up front.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={CHECKPOINT_GUARD_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock at once: no deadlock on upgrade from reader.
        immediate = conn.get_execution_options().get(WRITE, False)
        # Straight to the driver: SQLAlchemy's execution around it cost more than the BEGIN.
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        if not dbapi.in_transaction:  # else a `write_transaction` runs: the statement joins it
            dbapi.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@contextmanager
def write_transaction(conn: Connection) -> Iterator[None]:
    """A write transaction begun and ended on the driver's connection under `conn`, for the
    store's kept write connection: SQLAlchemy's begin and commit, with their events and
    bookkeeping, cost twice the BEGIN and COMMIT themselves. A statement run through `conn`
    joins the transaction (`_on_begin` leaves it alone), and SQLAlchemy's record of it is
    closed with it."""
    bulk.execute(conn, "BEGIN IMMEDIATE", ())
    try:
        yield
        if conn.in_transaction():
            conn.commit()
        else:
            bulk.execute(conn, "COMMIT", ())
    except BaseException:
        if conn.in_transaction():
            conn.rollback()
        elif in_transaction(conn):
            bulk.execute(conn, "ROLLBACK", ())
        raise


def in_transaction(conn: Connection) -> bool:
    """Whether a transaction is open on `conn`, begun by SQLAlchemy or on the driver."""
    dbapi = conn.connection.dbapi_connection
    return conn.in_transaction() or bool(dbapi is not None and dbapi.in_transaction)


class Checkpointer:
    """Checkpoints the WAL every `interval` seconds, off the requests' path.

    PASSIVE: it copies what no reader still needs and never waits for readers or the writer;
    the WAL starts over from its beginning once a checkpoint has copied all of it.
    """

    def __init__(self, engine: Engine, interval: float = CHECKPOINT_INTERVAL_SECONDS) -> None:
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint()
            # The file went away, or is locked: try again later. The raw cursor raises the
            # driver's own errors, the pool SQLAlchemy's.
            except (SQLAlchemyError, sqlite3.Error) as exc:
                log.debug("WAL checkpoint failed: %s", exc)

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint."""
        connection = self._engine.raw_connection()  # autocommit: outside any transaction
        try:
            cursor = connection.cursor()
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            cursor.close()
        finally:
            connection.close()
