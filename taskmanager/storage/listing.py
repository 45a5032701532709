"""The task list: one page, newest first, read in index order whatever the filter.

A filter on status alone walks `ix_tasks_status_seq`, one with a type `ix_tasks_type_status_seq`,
one with a worker `ix_tasks_worker_status_seq`. When the filter names a type or a worker but no
status, the page is the newest of one page per status, each read from that index in order: five
short index walks instead of sorting every task of the type. No filter walks the primary key.
MariaDB/MySQL are told which index to use: their planner otherwise intersects two indexes, or
takes one that is not in `seq` order, and reads every task of the type.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select, union_all

from taskmanager.status import TaskStatus
from taskmanager.storage.base import TaskFilter
from taskmanager.storage.schema import tasks


def page_query(where: TaskFilter, limit: int, before_seq: int | None) -> Select[Any]:
    """The rows of one page: `limit` tasks with `seq < before_seq`, newest first."""
    conditions: list[ColumnElement[bool]] = []
    if where.type is not None:
        conditions.append(tasks.c.type == where.type)
    if where.worker_id is not None:
        conditions.append(tasks.c.worker_id == where.worker_id)
    if before_seq is not None:
        conditions.append(tasks.c.seq < before_seq)
    index = _index(where)
    if where.status is not None:
        return _newest([*conditions, tasks.c.status == where.status], limit, index)
    if index is None:
        return _newest(conditions, limit, None)
    per_status = union_all(
        *(
            select(_newest([*conditions, tasks.c.status == status], limit, index).subquery())
            for status in TaskStatus
        )
    ).subquery()
    return select(per_status).order_by(per_status.c.seq.desc()).limit(limit)


def _index(where: TaskFilter) -> str | None:
    if where.worker_id is not None:
        return "ix_tasks_worker_status_seq"
    if where.type is not None:
        return "ix_tasks_type_status_seq"
    if where.status is not None:
        return "ix_tasks_status_seq"
    return None


def _newest(conditions: list[ColumnElement[bool]], limit: int, index: str | None) -> Select[Any]:
    query = select(tasks).where(*conditions).order_by(tasks.c.seq.desc()).limit(limit)
    if index is not None:
        for dialect in ("mysql", "mariadb"):
            query = query.with_hint(tasks, f"FORCE INDEX ({index})", dialect)
    return query
