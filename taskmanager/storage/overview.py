"""What the dashboard and /metrics read: per-type overview, the last hour, global counters.

Every number comes from the database, so that all API processes report the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from taskmanager.models import HistoryPoint, QueueHistory, QueueOverview, TypeOverview
from taskmanager.status import TaskStatus
from taskmanager.storage.claiming import first_run_at_of_type
from taskmanager.storage.counts import Counts, read_counts
from taskmanager.storage.events import DEPTH_CHANGE, Event
from taskmanager.storage.rows import from_db_time
from taskmanager.storage.schema import task_events, task_tallies

UNFINISHED = (TaskStatus.PENDING, TaskStatus.PROCESSING)


@dataclass(frozen=True)
class MetricCounts:
    """Global numbers for /metrics: depth by (type, status) and counters that never go down."""

    depth: dict[tuple[str, str], int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    oldest_pending_age_seconds: dict[str, float] = field(default_factory=dict)
    count_rows: int = 0  # rows of task_counts that held the depth


def oldest_pending_by_type(conn: Connection, now: datetime, counts: Counts) -> dict[str, float]:
    """Seconds the oldest due pending task of each type has waited: one seek per type."""
    ages = {}
    for type_, status in counts.by_type:
        if status == TaskStatus.PENDING:
            oldest = first_run_at_of_type(conn, type_, now)
            if oldest is not None:
                ages[type_] = max(0.0, (now - oldest).total_seconds())
    return ages


def _events_by_type(conn: Connection, since: datetime) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        select(task_events.c.type, task_events.c.event, func.count())
        .where(
            task_events.c.at >= since,
            task_events.c.event.in_([Event.COMPLETED, Event.FAILED]),
        )
        .group_by(task_events.c.type, task_events.c.event)
    )
    return {(type_, event): int(count) for type_, event, count in rows}


def queue_overview(conn: Connection, now: datetime, window_seconds: int) -> QueueOverview:
    """Each type's depth by status, completions and failures in the window, oldest pending."""
    counts = read_counts(conn)
    depth = counts.by_type
    finished = _events_by_type(conn, now - timedelta(seconds=window_seconds))
    oldest = oldest_pending_by_type(conn, now, counts)
    names = sorted({type_ for type_, _ in depth} | {type_ for type_, _ in finished})
    types = []
    for name in names:
        done = finished.get((name, Event.COMPLETED), 0)
        failed = finished.get((name, Event.FAILED), 0)
        types.append(
            TypeOverview.model_construct(
                type=name,
                counts={status.value: depth.get((name, status.value), 0) for status in TaskStatus},
                completed_in_window=done,
                failed_in_window=failed,
                error_rate=failed / (done + failed) if done + failed else None,
                oldest_pending_age_seconds=oldest.get(name),
            )
        )
    return QueueOverview.model_construct(
        window_seconds=window_seconds, types=types, generated_at=from_db_time(now)
    )


def _bucket_sums(starts: list[datetime], width: timedelta) -> list[Any]:
    at = task_events.c.at
    return [func.sum(case((and_(at >= start, at < start + width), 1), else_=0)) for start in starts]


def queue_history(conn: Connection, now: datetime, minutes: int) -> QueueHistory:
    """Per minute over the last `minutes`: completions, failures, and unfinished tasks."""
    width = timedelta(minutes=1)
    starts = [now - width * (minutes - index) for index in range(minutes)]
    per_event: dict[str, list[int]] = {}
    query = (
        select(task_events.c.event, *_bucket_sums(starts, width))
        .where(task_events.c.at >= starts[0], task_events.c.at < now)
        .group_by(task_events.c.event)
    )
    for event, *counts in conn.execute(query):
        per_event[event] = [int(count or 0) for count in counts]
    now_counts = read_counts(conn)
    unfinished = sum(now_counts.total(status) for status in UNFINISHED)
    deltas = [
        sum(
            change * per_event.get(event, [0] * minutes)[index]
            for event, change in DEPTH_CHANGE.items()
        )
        for index in range(minutes)
    ]
    depth_at_end = int(unfinished)
    depths = [0] * minutes
    for index in range(minutes - 1, -1, -1):
        depths[index] = max(0, depth_at_end)
        depth_at_end -= deltas[index]
    zeros = [0] * minutes
    points = [
        HistoryPoint.model_construct(
            at=from_db_time(start + width),
            completed=per_event.get(Event.COMPLETED, zeros)[index],
            failed=per_event.get(Event.FAILED, zeros)[index],
            depth=depths[index],
        )
        for index, start in enumerate(starts)
    ]
    return QueueHistory.model_construct(
        minutes=minutes, points=points, generated_at=from_db_time(now)
    )


def _tallies(conn: Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(select(task_tallies.c.type, task_tallies.c.outcome, task_tallies.c.count))
    return {(type_, outcome): int(count) for type_, outcome, count in rows}


def metric_counts(conn: Connection, now: datetime) -> MetricCounts:
    """Depth gauges and created/completed/failed totals, including purged tasks."""
    counts = read_counts(conn)
    depth = counts.by_type
    tallies = _tallies(conn)
    names = {type_ for type_, _ in depth} | {type_ for type_, _ in tallies}

    def total(name: str, statuses: list[str], outcome: str) -> int:
        live = sum(depth.get((name, status), 0) for status in statuses)
        return live + tallies.get((name, outcome), 0)

    everything = [status.value for status in TaskStatus]
    return MetricCounts(
        depth=depth,
        created={name: total(name, everything, "created") for name in names},
        completed={name: total(name, ["completed"], "completed") for name in names},
        failed={name: total(name, ["failed"], "failed") for name in names},
        oldest_pending_age_seconds=oldest_pending_by_type(conn, now, counts),
        count_rows=counts.rows,
    )
