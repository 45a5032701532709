"""The worker's side of the API: retries with backoff, a shared circuit breaker, fencing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from taskmanager.client import AsyncClient
from taskmanager.errors import Forbidden, RateLimited, TaskManagerError, Unauthorized, Unavailable
from taskmanager.worker.completions import Completions
from taskmanager.worker.config import WorkerConfig
from taskmanager.worker.resilience import CircuitBreaker, backoff_delay
from taskmanager.worker.stats import WorkerStats

T = TypeVar("T")
log = logging.getLogger("taskmanager.worker")

MAX_LONG_POLL_SECONDS = 30.0
HEALTH_CHECK_ATTEMPTS = 4
HEALTH_CHECK_BASE_SECONDS = 0.5
HAND_BACK_TIMEOUT_SECONDS = 5.0
MAX_ERROR_LENGTH = 65536


def error_text(error: str) -> str:
    """An error as the API takes it: NUL (refused everywhere) shown as U+FFFD, then trimmed."""
    return error.replace("\x00", "\ufffd")[:MAX_ERROR_LENGTH]


class StartupFailed(Exception):
    """The API could not be reached at start: the message says what to check."""


def is_transient(exc: TaskManagerError) -> bool:
    """Worth retrying unchanged: network errors, 503, 429 and unknown server errors."""
    return isinstance(exc, Unavailable | RateLimited) or type(exc) is TaskManagerError


def key_hint(exc: TaskManagerError) -> str:
    """What to check when the API refuses the worker's key ("" for other errors)."""
    if isinstance(exc, Unauthorized | Forbidden):
        return "; check --api-key (TASKMANAGER_API_KEY): a worker needs a key of role worker"
    return ""


class WorkerApi:
    """The calls a worker makes, each fenced with its lease token and retried when transient."""

    def __init__(
        self, client: AsyncClient, config: WorkerConfig, breaker: CircuitBreaker, stats: WorkerStats
    ) -> None:
        self.client = client
        self.config = config
        self.breaker = breaker
        self.stats = stats
        self.completions = Completions(self._complete_one, self._complete_many)

    @property
    def worker_id(self) -> str:
        return self.config.worker_id

    async def check_health(self) -> dict[str, Any]:
        """`GET /health`, a few backed-off tries; StartupFailed with advice when it stays down."""
        for attempt in range(HEALTH_CHECK_ATTEMPTS):
            try:
                return await self.client.health()
            except TaskManagerError as exc:
                reason = exc.message
                log.warning(
                    "API health check failed (try %d of %d): %s",
                    attempt + 1,
                    HEALTH_CHECK_ATTEMPTS,
                    reason,
                )
            if attempt + 1 < HEALTH_CHECK_ATTEMPTS:
                await asyncio.sleep(backoff_delay(attempt, base=HEALTH_CHECK_BASE_SECONDS))
        raise StartupFailed(
            f"API health check failed: the TaskManager API at {self.client.api_url} is not "
            f"reachable ({reason}). Is the server running? Check --api-url "
            "(TASKMANAGER_API_URL)."
        )

    async def claim(self, limit: int) -> list[dict[str, Any]]:
        """Lease up to `limit` tasks, long-polling up to the poll interval (at most 30 s)."""
        wait = min(self.config.poll_interval, MAX_LONG_POLL_SECONDS)
        types = list(self.config.task_types) if self.config.task_types else None
        if limit == 1:
            task = await self._retrying(
                "claim",
                lambda: self.client.claim(self.worker_id, task_types=types, wait_seconds=wait),
            )
            return [] if task is None else [task]
        return await self._retrying(
            "claim",
            lambda: self.client.claim_batch(
                self.worker_id, limit, task_types=types, wait_seconds=wait
            ),
        )

    async def heartbeat(
        self, task: dict[str, Any], progress: tuple[float, str | None] | None
    ) -> None:
        """One heartbeat; LeaseLost/TaskCancelled mean drop the task, others are logged."""
        percent, message = progress if progress else (None, None)
        if self.breaker.is_open:
            raise Unavailable("heartbeat skipped: the API is failing")
        await self._once(
            lambda: self.client.heartbeat(
                task["id"], self.worker_id, task["lease_token"], progress=percent, message=message
            )
        )

    async def complete(self, task: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Report success; completions that finish together share one request."""
        return await self.completions.complete(task, result)

    async def _complete_one(self, task: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        return await self._retrying(
            "complete",
            lambda: self.client.complete(
                task["id"], result, worker_id=self.worker_id, lease_token=task["lease_token"]
            ),
        )

    async def _complete_many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return await self._retrying(
            "complete",
            lambda: self.client.complete_batch(self.worker_id, items, include_tasks=False),
        )

    async def fail(
        self, task: dict[str, Any], error: str, *, retry: bool, delay: float | None = None
    ) -> dict[str, Any]:
        return await self._retrying(
            "fail",
            lambda: self.client.fail(
                task["id"],
                error_text(error),
                retry=retry,
                retry_delay_seconds=delay,
                worker_id=self.worker_id,
                lease_token=task["lease_token"],
            ),
        )

    async def hand_back(self, task_id: str, token: str | None, reason: str) -> None:
        """Give a task back for another worker to claim at once: one try, bounded in time."""
        call = self.client.fail(
            task_id,
            reason,
            retry=True,
            retry_delay_seconds=0,
            worker_id=self.worker_id,
            lease_token=token,
        )
        async with asyncio.timeout(HAND_BACK_TIMEOUT_SECONDS):
            await call

    async def held_tasks(self) -> list[dict[str, Any]]:
        """Tasks the API believes this worker holds (to find one a cut-off claim leased)."""
        page = await self.client.list_tasks(
            status="processing", worker_id=self.worker_id, limit=100
        )
        return list(page["tasks"])

    async def _once(self, make: Callable[[], Awaitable[T]]) -> T:
        try:
            result = await make()
        except TaskManagerError as exc:
            if is_transient(exc):
                self._count(exc)
            else:
                self.breaker.success()
            raise
        self.breaker.success()
        return result

    async def _retrying(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """Call until the API answers; transient errors back off (TooManyErrors past the limit)."""
        attempt = 0
        while True:
            await self.breaker.wait()
            try:
                return await self._once(make)
            except TaskManagerError as exc:
                if not is_transient(exc):
                    raise
                delay = self.breaker.retry_delay(attempt)
                log.warning("%s failed (%s); retrying in %.1f s", what, exc.message, delay)
            await asyncio.sleep(delay)
            attempt += 1

    def _count(self, exc: TaskManagerError) -> None:
        self.stats.api_errors += 1
        self.breaker.failure(exc.message)
