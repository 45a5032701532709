"""The storage interface. The HTTP routes call it; only its implementations touch a database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from taskmanager.clock import Clock
from taskmanager.models import (
    ApiKeyInfo,
    ClaimedTask,
    CompleteItem,
    CompleteOutcome,
    FailRequest,
    HeartbeatRequest,
    QueueHistory,
    QueueOverview,
    QueueStats,
    Task,
    TaskCreate,
    TaskEvent,
    TaskTypeInfo,
    TaskTypeUpdate,
    WorkerStats,
    WorkerSummary,
)
from taskmanager.roles import Role
from taskmanager.status import TaskStatus
from taskmanager.storage.overview import MetricCounts


@dataclass(frozen=True)
class Created:
    """A create's outcome: the task, and whether this call made it (False: an idempotent replay)."""

    task: Task
    created: bool


@dataclass(frozen=True)
class CompletedBatch:
    """A batch completion: an outcome for each item, and the type and seconds held of each task
    the call completed (an identical repeat has its outcome, but was not completed again)."""

    outcomes: list[CompleteOutcome]
    processing: list[tuple[str, float]]


@dataclass(frozen=True)
class ClaimArgs:
    """What one claim asks for: the arguments of `Store.claim`."""

    worker_id: str
    task_types: Sequence[str] | None
    lease_seconds: float | None
    limit: int


@dataclass(frozen=True)
class TaskFilter:
    status: TaskStatus | None = None
    type: str | None = None
    worker_id: str | None = None


class Watch(Protocol):
    """A running watcher of new tasks; `stop` ends it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Store(ABC):
    """Everything the API needs from a database."""

    clock: Clock
    # The database lives in this process (SQLite): a call is local work, with no network wait.
    embedded: bool = False

    @abstractmethod
    def ping(self) -> None:
        """Raise `Unavailable` unless the database answers."""

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema in place; refuse a server too old first, untouched."""

    @abstractmethod
    def check_server(self) -> list[str]:
        """Refuse a database server that cannot keep our promises; return warnings to log."""

    @abstractmethod
    def watch(
        self,
        notify: Callable[[str | None, int], None],
        active: Callable[[], bool],
        interval: float,
    ) -> Watch:
        """Report tasks created by any server process as `notify(type, count)`, until stopped.

        `active` says whether anyone is waiting; pollers rest while nobody is.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def create_tasks(self, items: Sequence[TaskCreate]) -> list[Created]:
        """Create tasks, all or nothing, honouring idempotency keys and task type schemas."""

    def create_and_claim(
        self, items: Sequence[TaskCreate], claims: Sequence[ClaimArgs]
    ) -> tuple[list[Created], list[list[ClaimedTask]]]:
        """`create_tasks`, then each of `claims` in turn, all in one transaction: what each
        claim leased, in the order of `claims`. A store that cannot share the transaction
        creates and leases nothing for the claims."""
        return self.create_tasks(items), [[] for _ in claims]

    @abstractmethod
    def get_task(self, task_id: str) -> Task:
        """One task, or `TaskNotFound`."""

    @abstractmethod
    def list_tasks(
        self, where: TaskFilter, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        """A page of tasks, newest first, and the cursor of the next page."""

    @abstractmethod
    def claim(
        self,
        worker_id: str,
        task_types: Sequence[str] | None,
        lease_seconds: float | None,
        limit: int,
    ) -> list[ClaimedTask]:
        """Atomically lease up to `limit` claimable tasks to a worker."""

    @abstractmethod
    def next_due_at(self, task_types: Sequence[str] | None) -> datetime | None:
        """The earliest instant a task may become claimable without anyone creating one."""

    @abstractmethod
    def heartbeat(self, task_id: str, request: HeartbeatRequest) -> Task:
        """Extend a lease held with a valid token, recording progress."""

    @abstractmethod
    def complete(
        self,
        task_id: str,
        result: dict[str, object] | None,
        worker_id: str | None,
        lease_token: str | None,
    ) -> Task:
        """Record success, fenced by the lease."""

    @abstractmethod
    def complete_many(
        self, worker_id: str, items: Sequence[CompleteItem], with_tasks: bool = True
    ) -> CompletedBatch:
        """Complete several tasks in one transaction, with an outcome for each; without
        `with_tasks` the outcomes leave the tasks out."""

    @abstractmethod
    def fail(self, task_id: str, request: FailRequest) -> Task:
        """Record a failed attempt: back to pending with backoff, or failed for good."""

    @abstractmethod
    def cancel(self, task_id: str) -> Task:
        """Cancel a pending or processing task."""

    @abstractmethod
    def retry(self, task_id: str) -> Task:
        """Send a failed or cancelled task back to pending with its attempts reset."""

    @abstractmethod
    def list_workers(self) -> list[WorkerSummary]:
        """Every worker ever seen, most recently seen first."""

    @abstractmethod
    def worker_stats(self, worker_id: str) -> WorkerStats:
        """One worker's numbers, or `NotFound`."""

    @abstractmethod
    def queue_stats(self) -> QueueStats:
        """Depth by type and status, throughput, oldest pending age, processing time."""

    @abstractmethod
    def put_task_type(self, name: str, update: TaskTypeUpdate) -> TaskTypeInfo:
        """Create or replace a task type's settings."""

    @abstractmethod
    def get_task_type(self, name: str) -> TaskTypeInfo:
        """One task type, or `NotFound`."""

    @abstractmethod
    def list_task_types(self) -> list[TaskTypeInfo]:
        """All task types, by name."""

    @abstractmethod
    def create_api_key(self, name: str, role: Role) -> tuple[str, ApiKeyInfo]:
        """Make a key; its secret is returned once and only its hash is kept."""

    @abstractmethod
    def ensure_api_key(self, name: str, role: Role, key: str) -> ApiKeyInfo:
        """Store a key whose secret the operator chose, unless it is stored already; its record."""

    @abstractmethod
    def find_api_key(self, key: str) -> ApiKeyInfo | None:
        """The key with this secret (revoked ones included), or None."""

    @abstractmethod
    def count_active_api_keys(self) -> int:
        """How many keys are not revoked."""

    @abstractmethod
    def list_api_keys(self) -> list[ApiKeyInfo]:
        """Every key, revoked ones included, oldest first."""

    @abstractmethod
    def revoke_api_key(self, id_or_name: str) -> list[ApiKeyInfo]:
        """Revoke the key with this id, or the active keys with this name."""

    # -- operations: history, dashboard, metrics, retention ------------------------------------

    @abstractmethod
    def task_events(self, task_id: str) -> list[TaskEvent]:
        """A task's history, oldest first, or `TaskNotFound`."""

    @abstractmethod
    def queue_overview(self, window_seconds: int) -> QueueOverview:
        """Per type: depth by status, completions and failures in the window, oldest pending."""

    @abstractmethod
    def queue_history(self, minutes: int) -> QueueHistory:
        """Per minute: completions, failures and unfinished tasks."""

    @abstractmethod
    def metric_counts(self) -> MetricCounts:
        """Global depth gauges and created/completed/failed totals for /metrics."""

    @abstractmethod
    def count_purgeable(self, statuses: Sequence[TaskStatus], before: datetime) -> int:
        """How many tasks in these finished statuses finished before `before`."""

    @abstractmethod
    def purge_batch(self, statuses: Sequence[TaskStatus], before: datetime, limit: int) -> int:
        """Delete up to `limit` of them in one short transaction; how many went."""
