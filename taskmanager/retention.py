"""Retention rules shared by `taskmanager purge` and the server's background purge."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskmanager.status import TaskStatus
from taskmanager.storage import Store

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
FINISHED = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED)


def parse_duration(text: str) -> timedelta:
    """`30m`, `12h`, `7d`, `2w`, `45s` as a timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 12h, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_statuses(text: str) -> list[TaskStatus]:
    """A comma-separated list of finished statuses; ValueError for any other."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError("name at least one status: completed, failed or cancelled")
    chosen = []
    for name in names:
        if name not in {status.value for status in FINISHED}:
            raise ValueError(f"cannot purge {name!r} tasks: only completed, failed or cancelled")
        chosen.append(TaskStatus(name))
    return chosen


@dataclass(frozen=True)
class PurgePlan:
    """Which tasks go: these statuses, finished more than `older_than` ago."""

    statuses: Sequence[TaskStatus]
    older_than: timedelta
    batch_size: int = 500

    def cutoff(self, now: datetime) -> datetime:
        return now - self.older_than


def purge(
    store: Store,
    plan: PurgePlan,
    on_batch: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Delete in batches, each its own short transaction, until none is left; how many went."""
    cutoff = plan.cutoff(store.clock.now())
    total = 0
    while should_stop is None or not should_stop():
        deleted = store.purge_batch(plan.statuses, cutoff, plan.batch_size)
        if not deleted:
            break
        total += deleted
        if on_batch is not None:
            on_batch(total)
    return total
