"""One task from claim to report: run its handler under heartbeats, then complete or fail it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from taskmanager.errors import (
    InvalidState,
    LeaseLost,
    PayloadTooLarge,
    TaskCancelled,
    TaskManagerError,
    TaskNotFound,
    ValidationFailed,
)
from taskmanager.worker.api import WorkerApi
from taskmanager.worker.handlers import PermanentError, Registered, Registry, Retry, TaskContext
from taskmanager.worker.heartbeat import Heartbeat

log = logging.getLogger("taskmanager.worker")


@dataclass
class Outcome:
    """How a task ended for this worker: the name in logs and statistics, and details."""

    name: str
    detail: str = ""
    exc_info: BaseException | None = None


def run_in_thread(function: Callable[[], Any], name: str) -> asyncio.Future[Any]:
    """Run a blocking handler in a daemon thread, so that exiting never waits for it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(error: BaseException | None, value: Any) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value, error = function(), None
        except BaseException as exc:  # handed to the event loop, which decides
            value, error = None, exc
        # RuntimeError: the loop is gone, the worker stopped without this task.
        with suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error, value)

    threading.Thread(target=target, name=name, daemon=True).start()
    return future


async def first_done(*futures: asyncio.Future[Any]) -> None:
    """Wait until one of `futures` is done: `asyncio.wait(..., FIRST_COMPLETED)` for a run's two.

    asyncio.wait checks and copies its arguments into sets on each call; a run has exactly two
    futures of its own making, so one waiter and two callbacks do.
    """
    waiter = asyncio.get_running_loop().create_future()

    def wake(_: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    try:
        await waiter
    finally:
        for future in futures:
            future.remove_done_callback(wake)


def result_object(value: Any) -> dict[str, Any]:
    """A handler's return value as the JSON object the API stores."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    return {"value": value}


class TaskRun:
    """A claimed task in this worker's hands."""

    def __init__(self, task: dict[str, Any], api: WorkerApi, registry: Registry) -> None:
        self.task = task
        self.api = api
        self.registry = registry
        self.started = time.monotonic()
        self.ctx = TaskContext(
            id=task["id"],
            type=task["type"],
            params=dict(task.get("params") or {}),
            attempt=int(task.get("attempts") or 1),
            max_attempts=int(task.get("max_attempts") or 1),
            worker_id=api.worker_id,
        )
        self.id = str(task["id"])
        self._heartbeat: Heartbeat | None = None
        self._working: asyncio.Task[Any] | None = None

    def start(self) -> None:
        """Start the handler and its heartbeats; `finish` waits for them and reports.

        Called in the turn of the event loop that read the claim's answer, so that the handler
        runs in the next turn, not after a task made only to start it.
        """
        self._heartbeat = heartbeat = Heartbeat(self.api, self.task, self.ctx)
        self.ctx.bind(heartbeat.report)
        heartbeat.start()
        self._working = asyncio.create_task(self._call_handler(), name=f"handler {self.id}")

    def abandon(self) -> None:
        """Stop the handler and its heartbeats without reporting (the worker hands it back)."""
        if self._working is not None:
            self._working.cancel()
        if self._heartbeat is not None:
            self._heartbeat.cancel()

    async def finish(self) -> Outcome:
        """Wait for the started handler (or the task's drop), then report; logged once."""
        heartbeat, working = self._heartbeat, self._working
        assert heartbeat is not None and working is not None, "finish() before start()"
        try:
            await first_done(working, heartbeat.dropped)
        except asyncio.CancelledError:
            working.cancel()
            raise
        finally:
            await heartbeat.stop()
        if not working.done():
            working.cancel()
            return self._dropped(heartbeat.dropped.result())
        return await self._report(working)

    async def _call_handler(self) -> Any:
        registered = self.registry.get(self.ctx.type)
        if registered is None:
            raise PermanentError(f"this worker has no handler for task type {self.ctx.type}")
        value = await self._start(registered)
        while asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        return value

    def _start(self, registered: Registered) -> Any:
        if registered.is_async:
            return registered.call(self.ctx)
        return run_in_thread(lambda: registered.call(self.ctx), f"task {self.id}")

    def _dropped(self, reason: TaskManagerError) -> Outcome:
        name = "cancelled" if isinstance(reason, TaskCancelled) else "lease_lost"
        return Outcome(name, f"dropped without reporting: {reason.message}")

    async def _report(self, working: asyncio.Task[Any]) -> Outcome:
        try:
            value = working.result()
        except Retry as exc:
            return await self._fail(str(exc), retry=True, delay=exc.delay_seconds, name="retry")
        except PermanentError as exc:
            return await self._fail(str(exc), retry=False, name="failed")
        except (LeaseLost, TaskCancelled) as exc:  # raised by ctx.progress after a drop
            return self._dropped(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            outcome = await self._fail(error, retry=True, name="retry")
            outcome.exc_info = exc
            return outcome
        return await self._complete(value)

    async def _complete(self, value: Any) -> Outcome:
        if isinstance(value, dict) and value.get("success") is False:
            # The envelope of the integration guide: {"success": false, "message": ...}.
            message = str(value.get("message") or "the handler reported failure")
            return await self._fail(message, retry=True, name="retry")
        try:
            await self.api.complete(self.task, result_object(value))
        except (ValidationFailed, PayloadTooLarge) as exc:
            return await self._fail(
                f"result refused by the API: {exc.message}", retry=False, name="failed"
            )
        except (LeaseLost, TaskCancelled, TaskNotFound, InvalidState) as exc:
            return Outcome("lease_lost", f"result not accepted: {exc.message}")
        return Outcome("completed")

    async def _fail(
        self, error: str, *, retry: bool, name: str, delay: float | None = None
    ) -> Outcome:
        try:
            task = await self.api.fail(self.task, error, retry=retry, delay=delay)
        except (LeaseLost, TaskCancelled, TaskNotFound, InvalidState) as exc:
            return Outcome("lease_lost", f"failure not accepted: {exc.message}")
        if task.get("status") == "failed":
            name = "failed"
        detail = error if task.get("status") == "failed" else f"{error} (retry at {task['run_at']})"
        return Outcome(name, detail)

    def log_outcome(self, outcome: Outcome) -> None:
        """The one line per task: id, type, attempt, duration, outcome."""
        seconds = time.monotonic() - self.started
        level = logging.INFO if outcome.name == "completed" else logging.WARNING
        if not log.isEnabledFor(level):
            return  # a busy worker logging at WARNING need not build a line per task
        text = f"task {self.id} {self.ctx.type} {outcome.name} in {seconds:.3f} s"
        text += f" (attempt {self.ctx.attempt}/{self.ctx.max_attempts})"
        if outcome.detail:
            text += f": {outcome.detail}"
        extra = {
            "task_id": self.id,
            "task_type": self.ctx.type,
            "attempt": self.ctx.attempt,
            "duration_seconds": round(seconds, 3),
            "outcome": outcome.name,
        }
        log.log(level, text, extra=extra, exc_info=outcome.exc_info)
