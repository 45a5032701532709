"""The claim: take back expired leases, pick claimable tasks, lease them. One transaction.

SQLite's BEGIN IMMEDIATE makes the claim the only writer; PostgreSQL and MariaDB/MySQL lock
the picked rows with FOR UPDATE SKIP LOCKED so concurrent claims take different tasks.
"""

from __future__ import annotations

import base64
import secrets
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    func,
    literal_column,
    select,
    update,
)

from taskmanager import policy
from taskmanager.models import ClaimedTask
from taskmanager.status import TaskStatus
from taskmanager.storage import bulk, counts, events, workers
from taskmanager.storage.rows import claimed_from_mapping
from taskmanager.storage.schema import status_is, tasks

if TYPE_CHECKING:
    from taskmanager.storage.base import ClaimArgs

LEASE_EXPIRED = "lease expired: the worker stopped heartbeating"


def lock(query: Select[Any], skip_locked: bool) -> Select[Any]:
    """Lock the selected rows, skipping those another claim holds, where the database can."""
    return query.with_for_update(skip_locked=True) if skip_locked else query


def claim(
    conn: Connection,
    now: datetime,
    args: ClaimArgs,
    *,
    default_lease_seconds: float,
    skip_locked: bool,
) -> list[ClaimedTask]:
    """Lease up to `args.limit` claimable tasks to `args.worker_id`, in claim order."""
    worker_id, lease_seconds, limit = args.worker_id, args.lease_seconds, args.limit
    expire_leases(conn, now, skip_locked)
    params: dict[str, Any] = {"now": now, "limit": limit}
    types = list(args.task_types or ())
    params.update(bulk.one_of_params(tasks.c.type, types))
    picked = [
        row._asdict() for row in bulk.select(conn, claimable(len(types), skip_locked), params)
    ]
    workers.touch_worker(conn, worker_id, now)
    if not picked:
        return []
    leased = leases(picked, worker_id, lease_seconds, default_lease_seconds, now)
    _LEASE.run(
        conn,
        (worker_id, now),
        [
            (
                task["lease_token"],
                task["lease_expires_at"],
                task["lease_granted_seconds"],
                task["seq"],
            )
            for task in leased
        ],
        times=(1, 3),
    )
    counts.add(
        conn,
        counts.moved((task["type"] for task in leased), TaskStatus.PENDING, TaskStatus.PROCESSING),
    )
    events.record_each(conn, events.Event.CLAIMED, now, leased)
    return [claimed_from_mapping(task) for task in leased]


# The statements every claim runs are built once: building one cost several times more
# than running it on SQLite.
# Re-check the state: the row must still be pending when it is written. Shared: the worker
# and the instant; each row's: its token, lease end, lease length and seq.
_LEASE = bulk.RowsUpdate.of(
    "tasks",
    "status = 'processing', worker_id = ?, claimed_at = ?, attempts = attempts + 1,"
    " progress = NULL, progress_message = NULL",
    ("lease_token", "lease_expires_at", "lease_granted_seconds"),
    key="seq",
    where="tasks.status = 'pending'",
)


@lru_cache(maxsize=64)
def claimable(types: int, skip_locked: bool) -> Select[Any]:
    """Pending tasks due at `now`, best first, at most `limit`, of `types` types when there are
    any (`bulk.one_of`)."""
    due: ColumnElement[bool] = tasks.c.run_at <= bindparam("now")
    if not skip_locked:
        # SQLite: say that most pending tasks are due, so that the planner walks the claim
        # index in claim order and stops at `limit`, instead of sorting every due task.
        due = func.likelihood(due, literal_column("0.9"))
    query = (
        select(tasks)
        .where(status_is(TaskStatus.PENDING), due)
        .order_by(tasks.c.priority.desc(), tasks.c.run_at, tasks.c.seq)
        .limit(bindparam("limit", type_=Integer))
    )
    if types:
        query = query.where(bulk.one_of(tasks.c.type, types))
    return lock(query, skip_locked)


def leases(
    rows: list[dict[str, Any]],
    worker_id: str,
    requested: float | None,
    default: float,
    now: datetime,
) -> list[dict[str, Any]]:
    """The column values of each task once leased (the UPDATE in `claim` writes the same)."""
    claimed = {
        "status": TaskStatus.PROCESSING,
        "worker_id": worker_id,
        "claimed_at": now,
        "progress": None,
        "progress_message": None,
    }
    # The tasks of one claim mostly share their lease: its length and end are worked out once.
    terms: dict[float | None, tuple[float, datetime]] = {}
    leased = []
    for row, token in zip(rows, _lease_tokens(len(rows)), strict=True):
        term = terms.get(row["lease_seconds"])
        if term is None:
            seconds = policy.resolve_lease_seconds(requested, row["lease_seconds"], default)
            term = terms[row["lease_seconds"]] = (seconds, policy.lease_expires_at(now, seconds))
        leased.append(
            {
                **row,
                **claimed,
                "attempts": row["attempts"] + 1,
                "lease_token": token,
                "lease_expires_at": term[1],
                "lease_granted_seconds": term[0],
            }
        )
    return leased


TOKEN_BYTES = 24  # a token is their URL-safe base64: 32 characters, as secrets.token_urlsafe(24)
_TOKEN_CHARS = TOKEN_BYTES // 3 * 4


def _lease_tokens(count: int) -> list[str]:
    """`count` fresh lease tokens from one read of the system's random source: whole groups of
    three bytes encode on their own, so the slices are each token's own encoding."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES * count)).decode()
    return [text[start : start + _TOKEN_CHARS] for start in range(0, len(text), _TOKEN_CHARS)]


def expire_leases(conn: Connection, now: datetime, skip_locked: bool) -> None:
    """Take back tasks whose lease ran out: pending again, or failed after the last attempt."""
    expired = bulk.select(conn, _expired(skip_locked), {"now": now})
    happened = []
    deltas: counts.Deltas = Counter()
    for row in expired:
        status = policy.status_after_failure(row.attempts, row.max_attempts, retry=True)
        deltas.update(counts.moved([row.type], TaskStatus.PROCESSING, status))
        finished = status == TaskStatus.FAILED
        conn.execute(
            update(tasks)
            .where(tasks.c.seq == row.seq, tasks.c.status == TaskStatus.PROCESSING)
            .values(
                status=status,
                error=LEASE_EXPIRED,
                lease_expires_at=None,
                completed_at=now if finished else None,
                worker_id=tasks.c.worker_id if finished else None,
            )
        )
        kind = events.Event.FAILED if finished else events.Event.RETRYING
        happened.append(events.event_row(row, kind, now, message=LEASE_EXPIRED))
    events.record(conn, happened)
    counts.add(conn, deltas)


@cache
def _expired(skip_locked: bool) -> Select[Any]:
    query = select(
        tasks.c.seq,
        tasks.c.id,
        tasks.c.type,
        tasks.c.worker_id,
        tasks.c.attempts,
        tasks.c.max_attempts,
    ).where(status_is(TaskStatus.PROCESSING), tasks.c.lease_expires_at <= bindparam("now"))
    return lock(query, skip_locked)


# The earliest run_at of a type's pending tasks: one seek in ix_tasks_type_status_run_at.
_FIRST_RUN_AT_OF_TYPE = (
    select(tasks.c.run_at)
    .where(
        tasks.c.type == bindparam("type"),
        status_is(TaskStatus.PENDING),
        tasks.c.run_at <= bindparam("before"),
    )
    .order_by(tasks.c.run_at)
    .limit(1)
)
_FIRST_RUN_AT = select(func.min(tasks.c.run_at)).where(status_is(TaskStatus.PENDING))
_END_OF_TIME = datetime(9999, 1, 1)


def first_run_at_of_type(conn: Connection, type_: str, before: datetime) -> datetime | None:
    """The earliest run_at up to `before` among the type's pending tasks (naive UTC)."""
    found: datetime | None = conn.execute(
        _FIRST_RUN_AT_OF_TYPE, {"type": type_, "before": before}
    ).scalar()
    return found


def next_due_at(conn: Connection, task_types: Sequence[str] | None) -> datetime | None:
    """The earliest pending run_at or lease expiry among these types (naive UTC)."""
    lease = select(func.min(tasks.c.lease_expires_at)).where(status_is(TaskStatus.PROCESSING))
    if task_types:
        lease = lease.where(tasks.c.type.in_(list(task_types)))
        runs = [first_run_at_of_type(conn, type_, _END_OF_TIME) for type_ in set(task_types)]
        due = min((run for run in runs if run is not None), default=None)
    else:
        due = conn.execute(_FIRST_RUN_AT).scalar_one()
    instants = [due, conn.execute(lease).scalar_one()]
    found = [instant for instant in instants if instant is not None]
    return min(found) if found else None
