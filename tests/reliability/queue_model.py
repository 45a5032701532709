"""A plain-Python model of one queue, written from SPEC §2-§3, for the stateful test.

It knows nothing of SQL. Lease tokens and jittered backoff instants are random on the server,
so the model adopts the server's token after a claim and the server's `run_at` after a backoff,
once the test has checked that it lies within its window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

DEFAULT_LEASE_SECONDS = 60.0
RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600.0
JITTER = 0.2
LEASE_EXPIRED = "lease expired: the worker stopped heartbeating"
FINISHED = ("completed", "failed", "cancelled")


class Refused(Exception):
    """The call must be refused with this error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class ModelTask:
    id: str
    seq: int
    priority: int
    max_attempts: int
    run_at: datetime
    status: str = "pending"
    attempts: int = 0
    worker_id: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    token: str | None = None
    old_tokens: list[str] = field(default_factory=list)
    lease_expires_at: datetime | None = None
    granted_lease: float | None = None

    def visible(self) -> dict[str, Any]:
        """The fields the test compares with the API's view of the task."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "worker_id": self.worker_id,
            "result": self.result,
            "error": self.error,
            "priority": self.priority,
            "max_attempts": self.max_attempts,
            "run_at": self.run_at,
            "lease_expires_at": self.lease_expires_at,
        }


def backoff_window(attempts: int) -> tuple[float, float]:
    """The delay range after attempt number `attempts` failed: base * 2^(n-1), ± jitter."""
    delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_CAP_SECONDS)
    return delay * (1 - JITTER), min(delay * (1 + JITTER), RETRY_CAP_SECONDS)


class QueueModel:
    """What the queue must look like after each call, and which calls it must refuse."""

    def __init__(self) -> None:
        self.tasks: dict[str, ModelTask] = {}

    def create(self, task_id: str, priority: int, max_attempts: int, run_at: datetime) -> None:
        self.tasks[task_id] = ModelTask(task_id, len(self.tasks), priority, max_attempts, run_at)

    def expire_leases(self, now: datetime) -> None:
        """What a claim does first: leases that ran out end the attempt."""
        for task in self.tasks.values():
            expires = task.lease_expires_at
            if task.status != "processing" or expires is None or expires > now:
                continue
            task.error = LEASE_EXPIRED
            task.lease_expires_at = None
            if task.attempts < task.max_attempts:
                task.status, task.worker_id = "pending", None
            else:
                task.status = "failed"

    def next_claim(self, now: datetime) -> ModelTask | None:
        """Highest priority first, then earliest run_at, then creation order."""
        ready = [t for t in self.tasks.values() if t.status == "pending" and t.run_at <= now]
        return min(ready, key=lambda t: (-t.priority, t.run_at, t.seq), default=None)

    def claimed(
        self, task: ModelTask, worker_id: str, token: str, now: datetime, lease: float | None
    ) -> None:
        if task.token is not None:
            task.old_tokens.append(task.token)
        task.status, task.worker_id, task.token = "processing", worker_id, token
        task.attempts += 1
        task.granted_lease = DEFAULT_LEASE_SECONDS if lease is None else lease
        task.lease_expires_at = lease_end(now, task.granted_lease)

    @staticmethod
    def check_holder(task: ModelTask, worker_id: str | None, token: str | None) -> None:
        """Fencing: a token must be the task's; without one, a worker id must be the holder."""
        if token is not None and token != task.token:
            raise Refused("lease_lost")
        if token is None and worker_id is not None and worker_id != task.worker_id:
            raise Refused("lease_lost")
        if task.status == "cancelled":
            raise Refused("task_cancelled")

    def heartbeat(
        self, task: ModelTask, worker_id: str, token: str, now: datetime, lease: float | None
    ) -> None:
        """A heartbeat without a length renews the lease its claim was granted."""
        self.check_holder(task, worker_id, token)
        if task.status != "processing":
            raise Refused("lease_lost")
        task.lease_expires_at = lease_end(now, lease if lease is not None else task.granted_lease)

    def complete(
        self, task: ModelTask, result: dict[str, Any], worker_id: str | None, token: str | None
    ) -> None:
        self.check_holder(task, worker_id, token)
        if task.status == "completed":
            if task.result != result:
                raise Refused("invalid_state")
            return  # an identical repeat changes nothing
        if task.status != "processing":
            raise Refused("lease_lost")
        task.status, task.result, task.error = "completed", result, None
        task.lease_expires_at = None

    def fail(
        self, task: ModelTask, error: str, retry: bool, worker_id: str | None, token: str | None
    ) -> bool:
        """Record a failed attempt; True when the task goes back to pending (a new run_at)."""
        self.check_holder(task, worker_id, token)
        if token is not None and task.status in ("pending", "failed") and task.error == error:
            return False  # an identical repeat changes nothing
        if task.status != "processing":
            raise Refused("lease_lost")
        task.error = error
        task.lease_expires_at = None
        if retry and task.attempts < task.max_attempts:
            task.status, task.worker_id = "pending", None
            return True
        task.status = "failed"
        return False

    def cancel(self, task: ModelTask) -> None:
        if task.status in FINISHED:
            raise Refused("invalid_state")
        task.status, task.lease_expires_at = "cancelled", None

    def retry(self, task: ModelTask, now: datetime) -> None:
        if task.status not in ("failed", "cancelled"):
            raise Refused("invalid_state")
        if task.token is not None:
            task.old_tokens.append(task.token)
        task.status, task.attempts, task.run_at = "pending", 0, now
        task.worker_id = task.token = task.result = task.error = None
        task.lease_expires_at = None


def lease_end(now: datetime, lease_seconds: float | None) -> datetime:
    return now + timedelta(
        seconds=DEFAULT_LEASE_SECONDS if lease_seconds is None else lease_seconds
    )
