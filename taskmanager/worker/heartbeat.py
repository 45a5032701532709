"""Heartbeats: keep a running task's lease alive, carry its progress, notice when it is gone."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from taskmanager.errors import LeaseLost, TaskCancelled, TaskManagerError, TaskNotFound
from taskmanager.worker.api import WorkerApi
from taskmanager.worker.handlers import TaskContext
from taskmanager.worker.resilience import TooManyErrors

log = logging.getLogger("taskmanager.worker")

DEFAULT_LEASE_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 0.2
PROGRESS_MIN_GAP_SECONDS = 1.0


def lease_seconds(task: dict[str, Any]) -> float:
    """The lease the claim granted: its expiry minus its claim time, both the API's clock."""
    try:
        claimed = datetime.fromisoformat(task["claimed_at"])
        expires = datetime.fromisoformat(task["lease_expires_at"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_LEASE_SECONDS
    seconds = (expires - claimed).total_seconds()
    return seconds if seconds > 0 else DEFAULT_LEASE_SECONDS


class Heartbeat:
    """Beats every third of the lease, and soon after a progress report.

    Beats are due a third of the lease after the previous one was sent, not after its answer
    came back: a slow answer does not push the next beat towards the lease's end.
    Most tasks end long before their first beat is due, so `start` only sets a timer; the
    beating task is made when the first beat or a progress report comes due.
    """

    def __init__(self, api: WorkerApi, task: dict[str, Any], ctx: TaskContext) -> None:
        self.api = api
        self.task = task
        self.ctx = ctx
        self.interval = max(MIN_INTERVAL_SECONDS, lease_seconds(task) / 3)
        self.dropped: asyncio.Future[TaskManagerError] = asyncio.get_running_loop().create_future()
        self._loop = asyncio.get_running_loop()
        self._nudge = asyncio.Event()
        self._progress: tuple[float, str | None] | None = None
        self._last_beat = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._beating: asyncio.Task[None] | None = None
        self._stopped = False

    def start(self) -> None:
        """Beat from one interval from now on, or sooner after a progress report."""
        self._timer = self._loop.call_later(self.interval, self._begin, True)

    def cancel(self) -> None:
        """No more beats; one in flight is cancelled (`stop` also waits for it to end)."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        if self._beating is not None:
            self._beating.cancel()

    async def stop(self) -> None:
        """No more beats; waits for one in flight to be cancelled."""
        self.cancel()
        if self._beating is not None:
            await asyncio.gather(self._beating, return_exceptions=True)

    def _begin(self, due: bool) -> None:
        if self._beating is not None or self._stopped:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._beating = self._loop.create_task(self._run(due), name=f"heartbeat {self.task['id']}")

    async def _run(self, due: bool) -> None:
        if due:
            await self.beat()
        await self.run()

    def report(self, percent: float, message: str | None) -> None:
        """Record progress; safe to call from a handler's thread."""
        self._loop.call_soon_threadsafe(self._set_progress, percent, message)

    def _set_progress(self, percent: float, message: str | None) -> None:
        self._progress = (percent, message)
        self._nudge.set()
        self._begin(False)

    async def run(self) -> None:
        """Beat until cancelled or until the API says the task is not ours any more."""
        while not self.dropped.done():
            await self._next_beat_due()
            await self.beat()

    async def _next_beat_due(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # arrives as the event is set, and the heartbeat would outlive its task.
        due = max(0.0, self._last_beat + self.interval - time.monotonic())
        try:
            async with asyncio.timeout(due):
                await self._nudge.wait()
        except TimeoutError:
            return
        # Progress is worth sending soon, but not once per call of a chatty handler.
        gap = self._last_beat + PROGRESS_MIN_GAP_SECONDS - time.monotonic()
        if gap > 0:
            await asyncio.sleep(min(gap, self.interval))

    async def beat(self) -> None:
        progress, self._progress = self._progress, None
        self._nudge.clear()
        self._last_beat = time.monotonic()
        try:
            await self.api.heartbeat(self.task, progress)
        except (LeaseLost, TaskCancelled, TaskNotFound) as exc:
            self.ctx.drop(exc)
            if not self.dropped.done():
                self.dropped.set_result(exc)
        except (TaskManagerError, TooManyErrors) as exc:
            self._progress = self._progress or progress
            log.warning(
                "heartbeat for task %s failed (%s); trying again in %.1f s",
                self.task["id"],
                exc,
                self.interval,
                extra={"task_id": self.task["id"]},
            )
