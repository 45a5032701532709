"""Retention: delete finished tasks older than a cutoff, a small batch per transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from taskmanager.status import TaskStatus
from taskmanager.storage import counts
from taskmanager.storage.claiming import lock
from taskmanager.storage.events import add_tally
from taskmanager.storage.schema import task_events, tasks

PURGEABLE = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


def _purgeable(statuses: Sequence[TaskStatus]) -> list[TaskStatus]:
    chosen = [TaskStatus(status) for status in statuses]
    unfinished = [status for status in chosen if status not in PURGEABLE]
    if unfinished:
        raise ValueError(f"only finished tasks can be purged, not {unfinished[0]}")
    return chosen


def count_purgeable(conn: Connection, statuses: Sequence[TaskStatus], before: datetime) -> int:
    """How many tasks in these statuses finished before the cutoff."""
    chosen = _purgeable(statuses)
    query = select(func.count()).where(tasks.c.status.in_(chosen), tasks.c.completed_at < before)
    return int(conn.execute(query).scalar_one())


def purge_batch(
    conn: Connection,
    statuses: Sequence[TaskStatus],
    before: datetime,
    limit: int,
    skip_locked: bool,
) -> int:
    """Delete up to `limit` such tasks and their events; their counts go to the tallies."""
    chosen = _purgeable(statuses)
    picked = conn.execute(
        lock(
            select(tasks.c.seq, tasks.c.id, tasks.c.type, tasks.c.status)
            .where(tasks.c.status.in_(chosen), tasks.c.completed_at < before)
            .limit(limit),
            skip_locked,
        )
    ).all()
    if not picked:
        return 0
    created: Counter[str] = Counter(row.type for row in picked)
    outcomes: Counter[tuple[str, str]] = Counter((row.type, row.status) for row in picked)
    for task_type, count in sorted(created.items()):
        add_tally(conn, task_type, "created", count)
    for (task_type, status), count in sorted(outcomes.items()):
        if status in (TaskStatus.COMPLETED, TaskStatus.FAILED):
            add_tally(conn, task_type, status, count)
    conn.execute(delete(task_events).where(task_events.c.task_id.in_([row.id for row in picked])))
    conn.execute(delete(tasks).where(tasks.c.seq.in_([row.seq for row in picked])))
    counts.add(conn, Counter({key: -count for key, count in outcomes.items()}))
    return len(picked)
