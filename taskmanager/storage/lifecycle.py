"""What happens to a claimed task: heartbeat, complete, fail, cancel, retry.

Each function runs inside a write transaction the store opened, decides with `policy`, and
persists the decision. The fencing rules of docs/protocol.md live in `check_holder`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select, update

from taskmanager import policy
from taskmanager.errors import (
    InvalidState,
    LeaseLost,
    TaskCancelled,
    TaskManagerError,
    TaskNotFound,
)
from taskmanager.models import (
    CompleteItem,
    CompleteOutcome,
    ErrorBody,
    FailRequest,
    HeartbeatRequest,
    Task,
)
from taskmanager.status import TaskStatus
from taskmanager.storage import bulk, counts, events
from taskmanager.storage.base import CompletedBatch
from taskmanager.storage.events import Event
from taskmanager.storage.rows import dump_json, load_json, task_from_mapping, task_from_row
from taskmanager.storage.schema import tasks
from taskmanager.storage.workers import touch_worker

LEASE_LOST = "the lease on this task is no longer yours"


# The statements of every complete and heartbeat are built once: building one cost several
# times more than running it on SQLite.
_LOCK_ONE = select(tasks).where(tasks.c.id == bindparam("id")).with_for_update()


# What a completion reads of each task when its answer leaves the tasks out.
_HELD = (
    tasks.c.seq,
    tasks.c.id,
    tasks.c.type,
    tasks.c.status,
    tasks.c.worker_id,
    tasks.c.lease_token,
    tasks.c.result,
    tasks.c.claimed_at,
    tasks.c.attempts,
)


@lru_cache(maxsize=128)
def _lock_many(count: int, whole: bool) -> Select[Any]:
    """The rows of `count` ids, locked: all their columns, or only `_HELD`; one statement per
    batch size (`bulk.one_of`)."""
    columns = (tasks,) if whole else _HELD
    return (
        select(*columns)
        .where(bulk.one_of(tasks.c.id, count))
        .order_by(tasks.c.seq)
        .with_for_update()
    )


# Shared: the instant; each row's: its result and seq.
_COMPLETE = bulk.RowsUpdate.of(
    "tasks",
    "status = 'completed', completed_at = ?, lease_expires_at = NULL, error = NULL",
    ("result",),
    key="seq",
)


def load_for_update(conn: Connection, task_id: str) -> Row[Any]:
    """The task's row, locked for the rest of the transaction."""
    row = conn.execute(_LOCK_ONE, {"id": task_id}).first()
    if row is None:
        raise TaskNotFound(f"no task with id {task_id}", {"id": task_id})
    return row


def check_holder(row: Row[Any], worker_id: str | None, lease_token: str | None) -> None:
    """Refuse a call that does not come from the task's current lease holder."""
    # A token is the proof; only calls without one are checked by worker id.
    if lease_token is not None:
        if lease_token != row.lease_token:
            raise LeaseLost(LEASE_LOST, _details(row))
    elif worker_id is not None and worker_id != row.worker_id:
        raise LeaseLost(LEASE_LOST, _details(row))
    if row.status == TaskStatus.CANCELLED:
        raise TaskCancelled("the task was cancelled", _details(row))


def _details(row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "status": row.status}


def _require_processing(row: Row[Any]) -> None:
    if row.status != TaskStatus.PROCESSING:
        raise LeaseLost(LEASE_LOST, _details(row))


def _save(conn: Connection, row: Row[Any], **values: Any) -> Task:
    """Persist new column values (plain values, no SQL expressions) and return the task."""
    conn.execute(update(tasks).where(tasks.c.seq == row.seq).values(**values))
    if values.get("status", row.status) != row.status:
        counts.add(conn, counts.moved([row.type], row.status, values["status"]))
    return task_from_mapping({**row._mapping, **values})


def _seconds_held(claimed: datetime | None, now: datetime) -> float:
    # `now` and stored instants are both naive UTC inside the store.
    return max(0.0, (now - claimed).total_seconds()) if claimed else 0.0


def heartbeat(
    conn: Connection, now: datetime, task_id: str, req: HeartbeatRequest, default_lease: float
) -> Task:
    """Extend the lease of its holder and record progress."""
    row = load_for_update(conn, task_id)
    check_holder(row, req.worker_id, req.lease_token)
    _require_processing(row)
    # Without a length of its own, a heartbeat renews the lease the claim granted.
    granted = row.lease_granted_seconds
    usual = granted if granted is not None else row.lease_seconds
    lease = policy.resolve_lease_seconds(req.lease_seconds, usual, default_lease)
    values: dict[str, Any] = {"lease_expires_at": policy.lease_expires_at(now, lease)}
    if req.progress is not None:
        values["progress"] = req.progress
    if req.message is not None:
        values["progress_message"] = req.message
    touch_worker(conn, row.worker_id, now)
    return _save(conn, row, **values)


def complete(
    conn: Connection,
    now: datetime,
    task_id: str,
    result: dict[str, Any] | None,
    worker_id: str | None,
    lease_token: str | None,
) -> Task:
    """Record success once; an identical repeat from the holder changes nothing."""
    row = load_for_update(conn, task_id)
    task, seconds = _complete_row(conn, now, row, result, worker_id, lease_token)
    if seconds is not None:
        touch_worker(conn, row.worker_id, now, completed=1, seconds=seconds)
    return task


def complete_many(
    conn: Connection,
    now: datetime,
    worker_id: str,
    items: Sequence[CompleteItem],
    with_tasks: bool = True,
) -> CompletedBatch:
    """Complete several tasks: rows locked in one query, written with one statement for the
    tasks and one for their events, the worker counted once. Without `with_tasks` the
    outcomes leave the tasks out."""
    params = bulk.one_of_params(tasks.c.id, [item.id for item in items])
    found = bulk.select(conn, _lock_many(len(items), with_tasks), params)
    rows = {row.id: row for row in found}
    outcomes: list[CompleteOutcome] = []
    done: list[dict[str, Any]] = []
    processing: list[tuple[str, float]] = []
    for item in items:
        try:
            row = rows.get(item.id)
            if row is None:
                raise TaskNotFound(f"no task with id {item.id}", {"id": item.id})
            repeat = not _completable(row, item.result, worker_id, item.lease_token)
        except TaskManagerError as exc:
            error = ErrorBody(**exc.to_dict())
            outcomes.append(CompleteOutcome(id=item.id, outcome=exc.code, error=error))
            continue
        if repeat:
            task = task_from_mapping(row._asdict()) if with_tasks else None
        else:
            result = dump_json(item.result)
            done.append(
                {
                    "seq": row.seq,
                    "id": row.id,
                    "type": row.type,
                    "attempts": row.attempts,
                    "worker_id": row.worker_id,
                    "result": result,
                }
            )
            processing.append((row.type, _seconds_held(row.claimed_at, now)))
            task = (
                task_from_mapping({**row._asdict(), **_completed(result, now)})
                if with_tasks
                else None
            )
        outcomes.append(CompleteOutcome(id=item.id, outcome="completed", task=task))
    if done:
        _write_completed(conn, now, done)
        held = sum(seconds for _type, seconds in processing)
        touch_worker(conn, worker_id, now, completed=len(done), seconds=held)
    return CompletedBatch(outcomes, processing)


def _write_completed(conn: Connection, now: datetime, done: list[dict[str, Any]]) -> None:
    """Write completions: of each task its `seq`, `id`, `type`, `attempts`, `worker_id` and
    `result` (the JSON text)."""
    events.record_each(conn, Event.COMPLETED, now, done)
    _COMPLETE.run(conn, (now,), [(values["result"], values["seq"]) for values in done], (0,))
    types = (values["type"] for values in done)
    counts.add(conn, counts.moved(types, TaskStatus.PROCESSING, TaskStatus.COMPLETED))


def _completable(
    row: Row[Any], result: dict[str, Any] | None, worker_id: str | None, lease_token: str | None
) -> bool:
    """True when the holder may complete the row now; False for an identical repeat."""
    check_holder(row, worker_id, lease_token)
    if row.status == TaskStatus.COMPLETED:
        if load_json(row.result) == result:
            return False
        raise InvalidState("the task is already completed", {"id": row.id})
    _require_processing(row)
    return True


def _completed(result: str | None, now: datetime) -> dict[str, Any]:
    """The columns a completion sets (`result` as JSON text)."""
    return {
        "status": TaskStatus.COMPLETED,
        "result": result,
        "completed_at": now,
        "lease_expires_at": None,
        "error": None,
    }


def _complete_row(
    conn: Connection,
    now: datetime,
    row: Row[Any],
    result: dict[str, Any] | None,
    worker_id: str | None,
    lease_token: str | None,
) -> tuple[Task, float | None]:
    """Complete a locked row; the seconds it was held, or None for an idempotent repeat."""
    if not _completable(row, result, worker_id, lease_token):
        return task_from_row(row), None
    values = {**row._mapping, **_completed(dump_json(result), now)}
    _write_completed(conn, now, [values])
    return task_from_mapping(values), _seconds_held(row.claimed_at, now)


def fail(
    conn: Connection, now: datetime, task_id: str, req: FailRequest, retry: policy.RetryPolicy
) -> Task:
    """Record a failed attempt: back to pending after a backoff while attempts remain."""
    row = load_for_update(conn, task_id)
    check_holder(row, req.worker_id, req.lease_token)
    if _is_repeat_of_fail(row, req):
        return task_from_row(row)
    _require_processing(row)
    status = policy.status_after_failure(row.attempts, row.max_attempts, req.retry)
    touch_worker(conn, row.worker_id, now, failed=1, seconds=_seconds_held(row.claimed_at, now))
    kind = Event.FAILED if status == TaskStatus.FAILED else Event.RETRYING
    events.record(conn, [events.event_row(row, kind, now, message=req.error)])
    if status == TaskStatus.FAILED:
        return _save(
            conn, row, status=status, error=req.error, completed_at=now, lease_expires_at=None
        )
    delay = req.retry_delay_seconds
    if delay is None:
        delay = policy.backoff_seconds(row.attempts, retry)
    return _save(
        conn,
        row,
        status=status,
        error=req.error,
        run_at=now + timedelta(seconds=delay),
        lease_expires_at=None,
        worker_id=None,
    )


def _is_repeat_of_fail(row: Row[Any], req: FailRequest) -> bool:
    # Only a token proves it is the same holder: a pending task has no worker any more.
    return (
        req.lease_token is not None
        and row.status in (TaskStatus.PENDING, TaskStatus.FAILED)
        and row.error == req.error
    )


def cancel(conn: Connection, now: datetime, task_id: str) -> Task:
    """Stop a task that has not finished; its holder learns of it on the next heartbeat."""
    row = load_for_update(conn, task_id)
    if TaskStatus(row.status).finished:
        raise InvalidState(
            f"the task is already {row.status}", {"id": row.id, "status": row.status}
        )
    events.record(conn, [events.event_row(row, Event.CANCELLED, now)])
    return _save(conn, row, status=TaskStatus.CANCELLED, completed_at=now, lease_expires_at=None)


def retry(conn: Connection, now: datetime, task_id: str) -> Task:
    """Give a failed or cancelled task a fresh set of attempts."""
    row = load_for_update(conn, task_id)
    if row.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        raise InvalidState(
            f"only failed or cancelled tasks can be retried; this one is {row.status}",
            {"id": row.id, "status": row.status},
        )
    events.record(conn, [events.event_row(row, Event.RETRIED, now)])
    if row.status == TaskStatus.FAILED:
        # Its failure stays counted in /metrics after it leaves the failed state.
        events.add_tally(conn, row.type, TaskStatus.FAILED, 1)
    return _save(
        conn,
        row,
        status=TaskStatus.PENDING,
        attempts=0,
        run_at=now,
        claimed_at=None,
        completed_at=None,
        worker_id=None,
        lease_token=None,
        lease_expires_at=None,
        result=None,
        error=None,
        progress=None,
        progress_message=None,
    )
