"""The Store on SQLAlchemy Core: one implementation for SQLite, MariaDB/MySQL and PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from taskmanager import policy
from taskmanager.clock import Clock, SystemClock
from taskmanager.errors import TaskNotFound
from taskmanager.models import (
    ApiKeyInfo,
    ClaimedTask,
    CompleteItem,
    FailRequest,
    HeartbeatRequest,
    QueueHistory,
    QueueOverview,
    QueueStats,
    Task,
    TaskCreate,
    TaskEvent,
    TaskTypeInfo,
    TaskTypeUpdate,
    WorkerStats,
    WorkerSummary,
)
from taskmanager.roles import Role
from taskmanager.status import TaskStatus
from taskmanager.storage import (
    claiming,
    counts,
    events,
    handoff,
    keys,
    lifecycle,
    listing,
    mysql,
    overview,
    postgres,
    reports,
    retention,
    sqlite,
    task_types,
    workers,
)
from taskmanager.storage.base import ClaimArgs, CompletedBatch, Created, Store, TaskFilter, Watch
from taskmanager.storage.dbclock import DatabaseClock
from taskmanager.storage.engine import WRITE, is_retryable, migrate, translate_errors
from taskmanager.storage.overview import MetricCounts
from taskmanager.storage.rows import (
    decode_cursor,
    encode_cursor,
    from_db_time,
    task_from_row,
    to_db_time,
)
from taskmanager.storage.schema import tasks
from taskmanager.storage.watch import Notify, SeqPoller

T = TypeVar("T")

# A transaction that lost a race (deadlock, lock timeout, duplicate key) runs again this often.
TRANSACTION_ATTEMPTS = 5


class SQLStore(Store):
    """Tasks in a relational database reached through SQLAlchemy Core."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        default_lease_seconds: float = 60.0,
        default_max_attempts: int = 3,
        retry: policy.RetryPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.embedded = self.dialect == "sqlite"
        self._checkpointer: sqlite.Checkpointer | None = None
        if self.embedded:
            self._checkpointer = sqlite.Checkpointer(engine)
            self._checkpointer.start()
        # One clock for all lease and schedule arithmetic: the database server's, except on
        # SQLite, whose database lives on this host.
        self.clock = clock or (SystemClock() if self.dialect == "sqlite" else DatabaseClock(engine))
        self.default_lease_seconds = default_lease_seconds
        self.default_max_attempts = default_max_attempts
        self.retry_policy = retry or policy.RetryPolicy()
        self._writer = engine.execution_options(**{WRITE: True})
        self._write_conn: Connection | None = None
        self._skip_locked = self.dialect != "sqlite"
        # SQLite has one writer at a time. Threads of this process queue on a lock and go as
        # soon as the previous write commits, where SQLite's busy handler would make them sleep
        # (1, 2, 5, 10 ... 100 ms) and retry. Other processes still meet the busy timeout.
        self._write_turn: AbstractContextManager[Any] = (
            threading.Lock() if self.dialect == "sqlite" else nullcontext()
        )

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(), self.engine.begin() as conn:
            yield conn

    def _write(self, work: Callable[[Connection], T], *, replay_duplicates: bool = False) -> T:
        """Run `work` in one write transaction, again if it lost a race with another one."""
        with translate_errors():
            for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
                try:
                    with self._write_turn, self._writing() as conn:
                        return work(conn)
                except IntegrityError:
                    if not replay_duplicates or attempt == TRANSACTION_ATTEMPTS:
                        raise
                except DBAPIError as exc:
                    if not is_retryable(exc) or attempt == TRANSACTION_ATTEMPTS:
                        raise
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A write transaction; on SQLite on the connection kept for writes (`_write_turn`
        lets one thread at a time use it), elsewhere on one from the pool."""
        if not self.embedded:
            with self._writer.begin() as pooled:
                yield pooled
            return
        kept = self._write_conn
        if kept is None or kept.invalidated:
            if kept is not None:
                kept.close()
            kept = self._write_conn = self._writer.connect()
            # Out of the pool's count: a pool of one must still serve the reads.
            kept.connection.detach()
        try:
            with sqlite.write_transaction(kept):
                yield kept
        except BaseException:
            if kept.invalidated or sqlite.in_transaction(kept):  # the rollback failed: afresh
                self._write_conn = None
                kept.close()
            raise

    def _now(self) -> datetime:
        return to_db_time(self.clock.now())

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(text("SELECT 1"))

    def check_server(self) -> list[str]:
        checks = {
            "mysql": mysql.check_server,
            "mariadb": mysql.check_server,
            "postgresql": postgres.check_server,
        }
        check = checks.get(self.dialect)
        if check is None:
            return []
        with self._read() as conn:
            return check(conn)

    def migrate(self) -> None:
        if self.dialect in ("mysql", "mariadb"):  # a server we would refuse keeps its schema
            with self._read() as conn:
                mysql.refuse_unsupported(conn)
        migrate(self.engine)
        self._write(counts.fold_closed_slots)

    def watch(self, notify: Notify, active: Callable[[], bool], interval: float) -> Watch:
        watcher: Watch
        if self.dialect == "postgresql":
            watcher = postgres.Listener(self.engine, notify)
        else:
            watcher = SeqPoller(self.engine, notify, active, interval)
        watcher.start()
        return watcher

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        with self._write_turn:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None
        self.engine.dispose()

    def _announce(self, conn: Connection, types: set[str]) -> None:
        """On PostgreSQL, wake the long polls of every server process when this commits."""
        if self.dialect == "postgresql":
            for task_type in sorted(types):
                conn.execute(text(postgres.notify_sql()), {"task_type": task_type})

    # -- create and read -----------------------------------------------------------------------

    def create_tasks(self, items: Sequence[TaskCreate]) -> list[Created]:
        return self.create_and_claim(items, ())[0]

    def create_and_claim(
        self, items: Sequence[TaskCreate], claims: Sequence[ClaimArgs]
    ) -> tuple[list[Created], list[list[ClaimedTask]]]:
        def work(conn: Connection) -> tuple[list[Created], list[list[ClaimedTask]]]:
            made, leased = handoff.create_and_claim(
                conn,
                self._now(),
                items,
                claims,
                default_max_attempts=self.default_max_attempts,
                default_lease_seconds=self.default_lease_seconds,
                skip_locked=self._skip_locked,
            )
            self._announce(conn, {c.task.type for c in made if c.created})
            return made, leased

        return self._write(work, replay_duplicates=True)

    def get_task(self, task_id: str) -> Task:
        with self._read() as conn:
            row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        if row is None:
            raise TaskNotFound(f"no task with id {task_id}", {"id": task_id})
        return task_from_row(row)

    def list_tasks(
        self, where: TaskFilter, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        before = decode_cursor(cursor) if cursor is not None else None
        query = listing.page_query(where, limit + 1, before)
        with self._read() as conn:
            rows = conn.execute(query).all()
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1].seq) if len(rows) > limit else None
        return [task_from_row(row) for row in page], next_cursor

    # -- claim ---------------------------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        task_types: Sequence[str] | None,
        lease_seconds: float | None,
        limit: int,
    ) -> list[ClaimedTask]:
        args = ClaimArgs(worker_id, task_types, lease_seconds, limit)
        return self._write(lambda conn: self._claim(conn, self._now(), args))

    def _claim(self, conn: Connection, now: datetime, args: ClaimArgs) -> list[ClaimedTask]:
        return claiming.claim(
            conn,
            now,
            args,
            default_lease_seconds=self.default_lease_seconds,
            skip_locked=self._skip_locked,
        )

    def next_due_at(self, task_types: Sequence[str] | None) -> datetime | None:
        with self._read() as conn:
            due = claiming.next_due_at(conn, task_types)
        return None if due is None else from_db_time(due)

    # -- after the claim -----------------------------------------------------------------------

    def heartbeat(self, task_id: str, request: HeartbeatRequest) -> Task:
        return self._write(
            lambda conn: lifecycle.heartbeat(
                conn, self._now(), task_id, request, self.default_lease_seconds
            )
        )

    def complete(
        self,
        task_id: str,
        result: dict[str, Any] | None,
        worker_id: str | None,
        lease_token: str | None,
    ) -> Task:
        return self._write(
            lambda conn: lifecycle.complete(
                conn, self._now(), task_id, result, worker_id, lease_token
            )
        )

    def complete_many(
        self, worker_id: str, items: Sequence[CompleteItem], with_tasks: bool = True
    ) -> CompletedBatch:
        return self._write(
            lambda conn: lifecycle.complete_many(conn, self._now(), worker_id, items, with_tasks)
        )

    def fail(self, task_id: str, request: FailRequest) -> Task:
        def work(conn: Connection) -> Task:
            task = lifecycle.fail(conn, self._now(), task_id, request, self.retry_policy)
            if task.status == TaskStatus.PENDING:
                self._announce(conn, {task.type})
            return task

        return self._write(work)

    def cancel(self, task_id: str) -> Task:
        return self._write(lambda conn: lifecycle.cancel(conn, self._now(), task_id))

    def retry(self, task_id: str) -> Task:
        def work(conn: Connection) -> Task:
            task = lifecycle.retry(conn, self._now(), task_id)
            self._announce(conn, {task.type})
            return task

        return self._write(work)

    # -- workers, stats, task types ------------------------------------------------------------

    def list_workers(self) -> list[WorkerSummary]:
        with self._read() as conn:
            return workers.list_workers(conn)

    def worker_stats(self, worker_id: str) -> WorkerStats:
        with self._read() as conn:
            return workers.worker_stats(conn, worker_id)

    def queue_stats(self) -> QueueStats:
        with self._read() as conn:
            return reports.queue_stats(conn, self._now())

    def put_task_type(self, name: str, update: TaskTypeUpdate) -> TaskTypeInfo:
        return self._write(
            lambda conn: task_types.put_task_type(conn, self._now(), name, update),
            replay_duplicates=True,
        )

    def get_task_type(self, name: str) -> TaskTypeInfo:
        with self._read() as conn:
            return task_types.get_task_type(conn, name)

    def list_task_types(self) -> list[TaskTypeInfo]:
        with self._read() as conn:
            return task_types.list_task_types(conn)

    # -- API keys ------------------------------------------------------------------------------

    def create_api_key(self, name: str, role: Role) -> tuple[str, ApiKeyInfo]:
        return self._write(lambda conn: keys.create_key(conn, self._now(), name, role))

    def ensure_api_key(self, name: str, role: Role, key: str) -> ApiKeyInfo:
        # Two servers starting at once may both insert; the loser replays and finds the key.
        return self._write(
            lambda conn: keys.ensure_key(conn, self._now(), name, role, key),
            replay_duplicates=True,
        )

    def find_api_key(self, key: str) -> ApiKeyInfo | None:
        with self._read() as conn:
            return keys.find_key(conn, key)

    def count_active_api_keys(self) -> int:
        with self._read() as conn:
            return keys.count_active(conn)

    def list_api_keys(self) -> list[ApiKeyInfo]:
        with self._read() as conn:
            return keys.list_keys(conn)

    def revoke_api_key(self, id_or_name: str) -> list[ApiKeyInfo]:
        return self._write(lambda conn: keys.revoke_key(conn, self._now(), id_or_name))

    # -- operations: history, dashboard, metrics, retention ------------------------------------

    def task_events(self, task_id: str) -> list[TaskEvent]:
        with self._read() as conn:
            found = conn.execute(select(tasks.c.seq).where(tasks.c.id == task_id)).first()
            if found is None:
                raise TaskNotFound(f"no task with id {task_id}", {"id": task_id})
            return events.list_events(conn, task_id)

    def queue_overview(self, window_seconds: int) -> QueueOverview:
        with self._read() as conn:
            return overview.queue_overview(conn, self._now(), window_seconds)

    def queue_history(self, minutes: int) -> QueueHistory:
        with self._read() as conn:
            return overview.queue_history(conn, self._now(), minutes)

    def metric_counts(self) -> MetricCounts:
        with self._read() as conn:
            found = overview.metric_counts(conn, self._now())
        if found.count_rows > counts.FOLD_AFTER_ROWS:  # /metrics is read every few seconds
            self._write(counts.fold_closed_slots)
        return found

    def count_purgeable(self, statuses: Sequence[TaskStatus], before: datetime) -> int:
        with self._read() as conn:
            return retention.count_purgeable(conn, statuses, to_db_time(before))

    def purge_batch(self, statuses: Sequence[TaskStatus], before: datetime, limit: int) -> int:
        return self._write(
            lambda conn: retention.purge_batch(
                conn, statuses, to_db_time(before), limit, self._skip_locked
            )
        )
