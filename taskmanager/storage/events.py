"""Task events: one row per change of a task, written in the transaction that made the change."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from taskmanager.models import TaskEvent
from taskmanager.storage import bulk
from taskmanager.storage.rows import from_db_time
from taskmanager.storage.schema import task_events, task_tallies

# Errors can be long; the history keeps their start, the task keeps the whole last one.
MESSAGE_CHARS = 2000


class Event(StrEnum):
    CREATED = "created"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    RETRYING = "retrying"  # an attempt failed; the task waits for its next one
    FAILED = "failed"  # the last attempt failed
    CANCELLED = "cancelled"
    RETRIED = "retried"  # sent back to pending by hand


# How each event changes the number of unfinished (pending or processing) tasks.
DEPTH_CHANGE = {
    Event.CREATED: 1,
    Event.RETRIED: 1,
    Event.COMPLETED: -1,
    Event.FAILED: -1,
    Event.CANCELLED: -1,
}


def event_row(
    row: Any,
    event: Event,
    now: datetime,
    *,
    attempt: int | None = None,
    worker_id: str | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """The event of a task row (anything with `id`, `type`, `attempts`, `worker_id`)."""
    return {
        "task_id": row["id"] if isinstance(row, dict) else row.id,
        "type": row["type"] if isinstance(row, dict) else row.type,
        "event": event.value,
        "at": now,
        "attempt": attempt if attempt is not None else _get(row, "attempts"),
        "worker_id": worker_id if worker_id is not None else _get(row, "worker_id"),
        "message": None if message is None else message[:MESSAGE_CHARS],
    }


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


_COLUMNS = ("task_id", "type", "event", "at", "attempt", "worker_id", "message")


def record(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert events; one statement however many."""
    bulk.insert_many(conn, task_events, _COLUMNS, list(rows))


def record_each(conn: Connection, event: Event, now: datetime, rows: Iterable[Any]) -> None:
    """Insert the same event, without a message, for each of these tasks (mappings with `id`,
    `type`, `attempts` and `worker_id`): `record` of their `event_row`s, without the lookups
    that work out what kind of row each one is."""
    kind = event.value
    values = [
        (row["id"], row["type"], kind, now, row["attempts"], row["worker_id"], None) for row in rows
    ]
    bulk.insert_values(conn, task_events, _COLUMNS, values)


def list_events(conn: Connection, task_id: str) -> list[TaskEvent]:
    """A task's events, oldest first."""
    rows = conn.execute(
        select(task_events).where(task_events.c.task_id == task_id).order_by(task_events.c.seq)
    )
    return [
        TaskEvent.model_construct(
            event=row.event,
            at=from_db_time(row.at),
            attempt=row.attempt,
            worker_id=row.worker_id,
            message=row.message,
        )
        for row in rows
    ]


def add_tally(conn: Connection, task_type: str, outcome: str, count: int) -> None:
    """Add to the count of tasks of a type that left the tasks table or the failed state."""
    if count <= 0:
        return
    changed = conn.execute(
        update(task_tallies)
        .where(task_tallies.c.type == task_type, task_tallies.c.outcome == outcome)
        .values(count=task_tallies.c.count + count)
    ).rowcount
    if changed:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(task_tallies).values(type=task_type, outcome=outcome, count=count))
    except IntegrityError:
        # Another transaction made the row first; add to it.
        add_tally(conn, task_type, outcome, count)
