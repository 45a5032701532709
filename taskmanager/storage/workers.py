"""Worker bookkeeping: last seen, counters, and the numbers derived from tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from taskmanager.errors import NotFound
from taskmanager.models import WorkerStats, WorkerSummary
from taskmanager.status import TaskStatus
from taskmanager.storage import bulk
from taskmanager.storage.rows import from_db_time
from taskmanager.storage.schema import tasks, workers

# Every claim, complete and fail runs it: as driver SQL, it cost a third of what it did through
# SQLAlchemy's compiled statements. The instant is at 0.
_TOUCH = (
    "UPDATE workers SET last_seen_at = ?, tasks_completed = tasks_completed + ?,"
    " tasks_failed = tasks_failed + ?,"
    " processing_seconds_total = processing_seconds_total + ? WHERE worker_id = ?"
)


def touch_worker(
    conn: Connection,
    worker_id: str | None,
    now: datetime,
    *,
    completed: int = 0,
    failed: int = 0,
    seconds: float = 0.0,
) -> None:
    """Note that a worker was seen now, adding to its counters."""
    if worker_id is None:
        return
    params = (now, completed, failed, seconds, worker_id)
    changed = bulk.execute(conn, bulk.driver_sql(conn, _TOUCH), params, times=(0,)).rowcount
    if changed:
        return
    values = {
        "worker_id": worker_id,
        "first_seen_at": now,
        "last_seen_at": now,
        "tasks_completed": completed,
        "tasks_failed": failed,
        "processing_seconds_total": seconds,
    }
    try:
        with conn.begin_nested():
            conn.execute(insert(workers).values(**values))
    except IntegrityError:
        # Another transaction saw it first; count on its row.
        touch_worker(conn, worker_id, now, completed=completed, failed=failed, seconds=seconds)


def _processing_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(tasks.c.worker_id, func.count())
        .where(tasks.c.status == TaskStatus.PROCESSING)
        .group_by(tasks.c.worker_id)
    )
    return {worker_id: count for worker_id, count in rows if worker_id is not None}


def _summary_fields(row: Row[Any], processing: int) -> dict[str, Any]:
    return {
        "worker_id": row.worker_id,
        "first_seen_at": from_db_time(row.first_seen_at),
        "last_seen_at": from_db_time(row.last_seen_at),
        "tasks_processing": processing,
        "tasks_completed": row.tasks_completed,
        "tasks_failed": row.tasks_failed,
    }


def list_workers(conn: Connection) -> list[WorkerSummary]:
    """Every worker seen, most recently seen first."""
    processing = _processing_counts(conn)
    rows = conn.execute(select(workers).order_by(workers.c.last_seen_at.desc()))
    return [
        WorkerSummary.model_construct(**_summary_fields(row, processing.get(row.worker_id, 0)))
        for row in rows
    ]


def worker_stats(conn: Connection, worker_id: str) -> WorkerStats:
    """One worker's numbers, with the ids of the tasks it holds now."""
    row = conn.execute(select(workers).where(workers.c.worker_id == worker_id)).first()
    if row is None:
        raise NotFound(f"no worker {worker_id!r} has been seen", {"worker_id": worker_id})
    current = list(
        conn.execute(
            select(tasks.c.id)
            .where(tasks.c.worker_id == worker_id, tasks.c.status == TaskStatus.PROCESSING)
            .order_by(tasks.c.seq)
        ).scalars()
    )
    finished = row.tasks_completed + row.tasks_failed
    average = row.processing_seconds_total / finished if finished else None
    return WorkerStats.model_construct(
        **_summary_fields(row, len(current)),
        avg_processing_seconds=average,
        current_task_ids=current,
    )
