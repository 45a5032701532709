"""The Store on SQLAlchemy Core: one implementation, with the claim tuned per dialect."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, func, insert, select, text, update

from taskmanager import policy
from taskmanager.clock import Clock, SystemClock
from taskmanager.errors import Conflict, TaskManagerError, TaskNotFound
from taskmanager.models import (
    ClaimedTask,
    CompleteItem,
    CompleteOutcome,
    ErrorBody,
    FailRequest,
    HeartbeatRequest,
    QueueStats,
    Task,
    TaskCreate,
    TaskTypeInfo,
    TaskTypeUpdate,
    WorkerStats,
    WorkerSummary,
)
from taskmanager.status import TaskStatus
from taskmanager.storage import lifecycle, reports, task_types, workers
from taskmanager.storage.base import Created, Store, TaskFilter
from taskmanager.storage.engine import WRITE, migrate, translate_errors
from taskmanager.storage.rows import (
    claimed_from_mapping,
    decode_cursor,
    dump_json,
    encode_cursor,
    from_db_time,
    request_hash,
    task_from_mapping,
    task_from_row,
    to_db_time,
)
from taskmanager.storage.schema import tasks

LEASE_EXPIRED = "lease expired: the worker stopped heartbeating"


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
        self.clock = clock or SystemClock()
        self.default_lease_seconds = default_lease_seconds
        self.default_max_attempts = default_max_attempts
        self.retry_policy = retry or policy.RetryPolicy()
        self._writer = engine.execution_options(**{WRITE: True})
        self._skip_locked = engine.dialect.name in ("postgresql", "mysql", "mariadb")

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with translate_errors(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with translate_errors(), self._writer.begin() as conn:
            yield conn

    def _now(self) -> datetime:
        return to_db_time(self.clock.now())

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- create and read -----------------------------------------------------------------------

    def create_tasks(self, items: Sequence[TaskCreate]) -> list[Created]:
        now = self._now()
        with self._write() as conn:
            types = task_types.load_types(conn, (item.type for item in items))
            for index, item in enumerate(items):
                where = f"tasks[{index}]." if len(items) > 1 else ""
                task_types.validate_params(types.get(item.type), item.params, where)
            rows = _first_per_key(
                [self._new_row(item, types.get(item.type), now) for item in items]
            )
            existing = _existing_by_key(conn, rows)
            fresh = {row["id"]: row for row in rows if row["idempotency_key"] not in existing}
            if fresh:
                conn.execute(insert(tasks), list(fresh.values()))
            replayed = (
                {
                    row.id: task_from_row(row)
                    for row in conn.execute(select(tasks).where(tasks.c.id.in_(existing.values())))
                }
                if existing
                else {}
            )
        made = {task_id: task_from_mapping(row) for task_id, row in fresh.items()}
        return [
            Created(made[row["id"]], True)
            if row["id"] in made
            else Created(replayed[existing[row["idempotency_key"]]], False)
            for row in rows
        ]

    def _new_row(self, item: TaskCreate, type_row: Any, now: datetime) -> dict[str, Any]:
        if item.run_at is not None:
            run_at = to_db_time(item.run_at)
        else:
            run_at = now + timedelta(seconds=item.delay_seconds or 0)
        return {
            "id": str(uuid.uuid4()),
            "type": item.type,
            "status": TaskStatus.PENDING,
            "params": dump_json(item.params),
            "priority": _first(item.priority, type_row and type_row.priority, 0),
            "created_at": now,
            "run_at": run_at,
            "attempts": 0,
            "max_attempts": _first(
                item.max_attempts, type_row and type_row.max_attempts, self.default_max_attempts
            ),
            "lease_seconds": type_row.lease_seconds if type_row else None,
            "idempotency_key": item.idempotency_key,
            "request_hash": request_hash(item) if item.idempotency_key else None,
        }

    def get_task(self, task_id: str) -> Task:
        with self._read() as conn:
            row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        if row is None:
            raise TaskNotFound(f"no task with id {task_id}", {"id": task_id})
        return task_from_row(row)

    def list_tasks(
        self, where: TaskFilter, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        query = select(tasks).order_by(tasks.c.seq.desc()).limit(limit + 1)
        if where.status is not None:
            query = query.where(tasks.c.status == where.status)
        if where.type is not None:
            query = query.where(tasks.c.type == where.type)
        if where.worker_id is not None:
            query = query.where(tasks.c.worker_id == where.worker_id)
        if cursor is not None:
            query = query.where(tasks.c.seq < decode_cursor(cursor))
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
        now = self._now()
        with self._write() as conn:
            self._expire_leases(conn, now)
            picked = conn.execute(self._claimable(task_types, limit, now)).all()
            workers.touch_worker(conn, worker_id, now)
            if not picked:
                return []
            leases = [self._lease(row, worker_id, lease_seconds, now) for row in picked]
            conn.execute(
                update(tasks)
                .where(tasks.c.seq == bindparam("b_seq"), tasks.c.status == TaskStatus.PENDING)
                .values(
                    status=TaskStatus.PROCESSING,
                    worker_id=worker_id,
                    claimed_at=now,
                    attempts=tasks.c.attempts + 1,
                    lease_token=bindparam("b_token"),
                    lease_expires_at=bindparam("b_expires"),
                    progress=None,
                    progress_message=None,
                ),
                [
                    {
                        "b_seq": row.seq,
                        "b_token": lease["lease_token"],
                        "b_expires": lease["lease_expires_at"],
                    }
                    for row, lease in zip(picked, leases, strict=True)
                ],
            )
        return [
            claimed_from_mapping({**row._mapping, **lease})
            for row, lease in zip(picked, leases, strict=True)
        ]

    def _lease(
        self, row: Any, worker_id: str, lease_seconds: float | None, now: datetime
    ) -> dict[str, Any]:
        """The columns a claim sets on one task (the UPDATE above writes the same)."""
        seconds = policy.resolve_lease_seconds(
            lease_seconds, row.lease_seconds, self.default_lease_seconds
        )
        return {
            "status": TaskStatus.PROCESSING,
            "worker_id": worker_id,
            "claimed_at": now,
            "attempts": row.attempts + 1,
            "lease_token": secrets.token_urlsafe(24),
            "lease_expires_at": policy.lease_expires_at(now, seconds),
            "progress": None,
            "progress_message": None,
        }

    def _claimable(self, types: Sequence[str] | None, limit: int, now: datetime) -> Select[Any]:
        query = (
            select(tasks)
            .where(tasks.c.status == TaskStatus.PENDING, tasks.c.run_at <= now)
            .order_by(tasks.c.priority.desc(), tasks.c.run_at, tasks.c.seq)
            .limit(limit)
        )
        if types:
            query = query.where(tasks.c.type.in_(list(types)))
        return self._locked(query)

    def _locked(self, query: Select[Any]) -> Select[Any]:
        # SQLite's BEGIN IMMEDIATE already makes the claim the only writer.
        return query.with_for_update(skip_locked=True) if self._skip_locked else query

    def _expire_leases(self, conn: Connection, now: datetime) -> None:
        """Take back tasks whose lease ran out: pending again, or failed after the last attempt."""
        expired = conn.execute(
            self._locked(
                select(tasks.c.seq, tasks.c.attempts, tasks.c.max_attempts).where(
                    tasks.c.status == TaskStatus.PROCESSING, tasks.c.lease_expires_at <= now
                )
            )
        ).all()
        for seq, attempts, max_attempts in expired:
            status = policy.status_after_failure(attempts, max_attempts, retry=True)
            finished = status == TaskStatus.FAILED
            conn.execute(
                update(tasks)
                .where(tasks.c.seq == seq)
                .values(
                    status=status,
                    error=LEASE_EXPIRED,
                    lease_expires_at=None,
                    completed_at=now if finished else None,
                    worker_id=tasks.c.worker_id if finished else None,
                )
            )

    def next_due_at(self, task_types: Sequence[str] | None) -> datetime | None:
        due = select(func.min(tasks.c.run_at)).where(tasks.c.status == TaskStatus.PENDING)
        lease = select(func.min(tasks.c.lease_expires_at)).where(
            tasks.c.status == TaskStatus.PROCESSING
        )
        if task_types:
            due = due.where(tasks.c.type.in_(list(task_types)))
            lease = lease.where(tasks.c.type.in_(list(task_types)))
        with self._read() as conn:
            instants = [conn.execute(due).scalar_one(), conn.execute(lease).scalar_one()]
        found = [instant for instant in instants if instant is not None]
        return from_db_time(min(found)) if found else None

    # -- after the claim -----------------------------------------------------------------------

    def heartbeat(self, task_id: str, request: HeartbeatRequest) -> Task:
        with self._write() as conn:
            return lifecycle.heartbeat(
                conn, self._now(), task_id, request, self.default_lease_seconds
            )

    def complete(
        self,
        task_id: str,
        result: dict[str, Any] | None,
        worker_id: str | None,
        lease_token: str | None,
    ) -> Task:
        with self._write() as conn:
            return lifecycle.complete(conn, self._now(), task_id, result, worker_id, lease_token)

    def complete_many(self, worker_id: str, items: Sequence[CompleteItem]) -> list[CompleteOutcome]:
        outcomes = []
        with self._write() as conn:
            now = self._now()
            for item in items:
                try:
                    task = lifecycle.complete(
                        conn, now, item.id, item.result, worker_id, item.lease_token
                    )
                except TaskManagerError as exc:
                    outcomes.append(
                        CompleteOutcome(
                            id=item.id, outcome=exc.code, error=ErrorBody(**exc.to_dict())
                        )
                    )
                else:
                    outcomes.append(CompleteOutcome(id=item.id, outcome="completed", task=task))
        return outcomes

    def fail(self, task_id: str, request: FailRequest) -> Task:
        with self._write() as conn:
            return lifecycle.fail(conn, self._now(), task_id, request, self.retry_policy)

    def cancel(self, task_id: str) -> Task:
        with self._write() as conn:
            return lifecycle.cancel(conn, self._now(), task_id)

    def retry(self, task_id: str) -> Task:
        with self._write() as conn:
            return lifecycle.retry(conn, self._now(), task_id)

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
        with self._write() as conn:
            return task_types.put_task_type(conn, self._now(), name, update)

    def get_task_type(self, name: str) -> TaskTypeInfo:
        with self._read() as conn:
            return task_types.get_task_type(conn, name)

    def list_task_types(self) -> list[TaskTypeInfo]:
        with self._read() as conn:
            return task_types.list_task_types(conn)


def _first(*values: Any) -> Any:
    return next(value for value in values if value is not None)


def _same_body(key: str, stored_hash: str | None, new_hash: str | None) -> None:
    if stored_hash != new_hash:
        raise Conflict(
            "this idempotency_key was already used with a different request body",
            {"idempotency_key": key},
        )


def _first_per_key(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that repeat a key earlier in the same batch take the earlier row's id."""
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = row["idempotency_key"]
        if key is None:
            continue
        if key in first:
            _same_body(key, first[key]["request_hash"], row["request_hash"])
            row["id"] = first[key]["id"]
        else:
            first[key] = row
    return rows


def _existing_by_key(conn: Connection, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Ids of tasks already created under these rows' keys; 409 when a body differs."""
    hashes = {row["idempotency_key"]: row["request_hash"] for row in rows if row["idempotency_key"]}
    if not hashes:
        return {}
    found = conn.execute(
        select(tasks.c.idempotency_key, tasks.c.id, tasks.c.request_hash).where(
            tasks.c.idempotency_key.in_(list(hashes))
        )
    )
    existing = {}
    for key, task_id, stored_hash in found:
        _same_body(key, stored_hash, hashes[key])
        existing[key] = task_id
    return existing
