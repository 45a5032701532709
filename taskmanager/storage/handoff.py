"""A create whose new tasks go straight to the claims waiting for them, in its transaction.

The claims come from workers that found nothing to claim. When none of them would find a task
already in the table, the new tasks are the only ones they can take: those they take are
inserted leased, in one write each, where a claim after the insert would write them again
(through every index that holds the status) with another count and event statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from taskmanager.models import ClaimedTask, TaskCreate
from taskmanager.storage import bulk, claiming, creating, workers
from taskmanager.storage.base import ClaimArgs, Created
from taskmanager.storage.rows import claimed_from_mapping
from taskmanager.storage.schema import tasks


def create_and_claim(
    conn: Connection,
    now: datetime,
    items: Sequence[TaskCreate],
    claims: Sequence[ClaimArgs],
    *,
    default_max_attempts: int,
    default_lease_seconds: float,
    skip_locked: bool,
) -> tuple[list[Created], list[list[ClaimedTask]]]:
    """Create `items`, then run each of `claims` in turn (`Store.create_and_claim`).

    The claims mostly come from workers that found nothing to claim: when none of them would
    find a task already in the table, the new tasks are the only ones they can take, and those
    they take are inserted leased, without a second write of each."""
    if not claims or not _nothing_claimable(conn, now, claims, skip_locked):
        made = creating.create_tasks(conn, now, items, default_max_attempts)
        leased = [
            claiming.claim(
                conn,
                now,
                args,
                default_lease_seconds=default_lease_seconds,
                skip_locked=skip_locked,
            )
            for args in claims
        ]
        return made, leased
    handed: list[list[dict[str, Any]]] = [[] for _ in claims]

    def lease(rows: list[dict[str, Any]]) -> None:
        handed[:] = _lease_new(rows, now, claims, default_lease_seconds)

    made = creating.create_tasks(conn, now, items, default_max_attempts, lease)
    for args in claims:
        workers.touch_worker(conn, args.worker_id, now)
    return made, [[claimed_from_mapping(task) for task in tasks] for tasks in handed]


def _nothing_claimable(
    conn: Connection, now: datetime, claims: Sequence[ClaimArgs], skip_locked: bool
) -> bool:
    """True when none of `claims` would find a task in the table, leases expired first."""
    claiming.expire_leases(conn, now, skip_locked)
    for types in {tuple(args.task_types or ()) for args in claims}:
        params = {"now": now, "limit": 1, **bulk.one_of_params(tasks.c.type, types)}
        if bulk.select(conn, claiming.claimable(len(types), skip_locked), params):
            return False
    return True


def _lease_new(
    rows: list[dict[str, Any]], now: datetime, claims: Sequence[ClaimArgs], default: float
) -> list[list[dict[str, Any]]]:
    """Lease new tasks' rows (in creation order, the only claimable tasks) to each claim in
    turn, in claim order, as `claim` would; `rows` takes the leased rows in their places."""
    due = [index for index, row in enumerate(rows) if row["run_at"] <= now]
    due.sort(key=lambda index: (-rows[index]["priority"], rows[index]["run_at"], index))
    taken: set[int] = set()
    start = 0  # due[:start] are all taken
    handed = []
    for args in claims:
        wanted = set(args.task_types or ())
        picked: list[int] = []
        for position in range(start, len(due)):
            if len(picked) == args.limit:
                break
            index = due[position]
            if index not in taken and (not wanted or rows[index]["type"] in wanted):
                picked.append(index)
                taken.add(index)
        while start < len(due) and due[start] in taken:
            start += 1
        leased = claiming.leases(
            [rows[i] for i in picked], args.worker_id, args.lease_seconds, default, now
        )
        for index, row in zip(picked, leased, strict=True):
            rows[index] = row
        handed.append(leased)
    return handed
