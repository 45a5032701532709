"""Queue statistics, read from the database so that every API process agrees."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from taskmanager.models import QueueCount, QueueStats
from taskmanager.status import TaskStatus
from taskmanager.storage.counts import read_counts
from taskmanager.storage.rows import from_db_time
from taskmanager.storage.schema import status_is, tasks

# Processing-time percentiles are taken over this many most recent completions.
PERCENTILE_WINDOW = 1000


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _finished_since(conn: Connection, status: TaskStatus, since: datetime) -> int:
    query = select(func.count()).where(tasks.c.status == status, tasks.c.completed_at >= since)
    return int(conn.execute(query).scalar_one())


def _oldest_pending_age(conn: Connection, now: datetime) -> float | None:
    oldest = conn.execute(
        select(func.min(tasks.c.run_at)).where(status_is(TaskStatus.PENDING), tasks.c.run_at <= now)
    ).scalar_one()
    if oldest is None:
        return None
    age: float = (now - oldest).total_seconds()
    return max(0.0, age)


def _processing_times(conn: Connection) -> list[float]:
    rows = conn.execute(
        select(tasks.c.claimed_at, tasks.c.completed_at)
        .where(tasks.c.status == TaskStatus.COMPLETED, tasks.c.completed_at.is_not(None))
        .order_by(tasks.c.completed_at.desc())
        .limit(PERCENTILE_WINDOW)
    )
    return sorted((done - claimed).total_seconds() for claimed, done in rows if claimed is not None)


def queue_stats(conn: Connection, now: datetime) -> QueueStats:
    """Depth by type and status, last-minute throughput, oldest pending age, p50/p95."""
    depth = [
        QueueCount.model_construct(type=type_, status=TaskStatus(status), count=count)
        for (type_, status), count in sorted(read_counts(conn).by_type.items())
    ]
    totals = {status.value: 0 for status in TaskStatus}
    for entry in depth:
        totals[entry.status.value] += entry.count
    minute_ago = now - timedelta(minutes=1)
    times = _processing_times(conn)
    return QueueStats.model_construct(
        depth=depth,
        totals=totals,
        completed_last_minute=_finished_since(conn, TaskStatus.COMPLETED, minute_ago),
        failed_last_minute=_finished_since(conn, TaskStatus.FAILED, minute_ago),
        oldest_pending_age_seconds=_oldest_pending_age(conn, now),
        processing_seconds_p50=percentile(times, 0.50),
        processing_seconds_p95=percentile(times, 0.95),
        generated_at=from_db_time(now),
    )
