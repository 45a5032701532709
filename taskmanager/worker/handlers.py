"""Handlers: plain functions registered by task type, and what they may raise or return."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taskmanager.errors import TaskManagerError

TYPE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")

Handler = Callable[..., Any]
"""`handler(params)` or `handler(params, ctx)`, sync or `async def`; returns the result."""


class Retry(Exception):
    """Raise from a handler to fail this attempt and run the task again after `delay_seconds`.

    `Retry(30)` waits 30 s, `Retry("why")` leaves the delay to the server's backoff, and
    `Retry("why", 30)` or `Retry("why", delay_seconds=30)` give both.
    """

    def __init__(
        self, message: str | float = "retry requested", delay_seconds: float | None = None
    ) -> None:
        if isinstance(message, bool) or isinstance(delay_seconds, bool):
            raise TypeError("Retry takes a message and a delay in seconds, not a boolean")
        if not isinstance(message, str):
            if delay_seconds is not None:
                raise TypeError("Retry(delay) or Retry(message, delay), not two delays")
            message, delay_seconds = "retry requested", float(message)
        if delay_seconds is not None and not 0 <= delay_seconds < math.inf:
            raise ValueError(f"Retry delay must be 0 seconds or more, got {delay_seconds!r}")
        super().__init__(message)
        self.delay_seconds = delay_seconds


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help: the task fails at once, for good."""


@dataclass
class TaskContext:
    """What a handler knows about its task, and how it reports progress."""

    id: str
    type: str
    params: dict[str, Any]
    attempt: int
    max_attempts: int
    worker_id: str
    _report: Callable[[float, str | None], None] = field(repr=False, default=lambda p, m: None)
    # Set once, by the event loop's thread; a handler's thread only reads it.
    _reason: TaskManagerError | None = field(repr=False, default=None)

    def progress(self, percent: float, message: str | None = None) -> None:
        """Record progress (0-100) sent with the next heartbeat; raises if the task was dropped.

        A dropped task (cancelled, or its lease lost) raises `TaskCancelled` or `LeaseLost`
        here, which gives a long synchronous handler a natural place to stop.
        """
        if self._reason is not None:
            raise self._reason
        self._report(max(0.0, min(100.0, float(percent))), message)

    @property
    def cancelled(self) -> bool:
        """True once the task is no longer this worker's (cancelled or lease lost)."""
        return self._reason is not None

    def bind(self, report: Callable[[float, str | None], None]) -> None:
        """Send progress reports to `report`; the worker calls this, not handlers."""
        self._report = report

    def drop(self, reason: TaskManagerError) -> None:
        """Mark the task as no longer ours; the worker calls this, not handlers."""
        self._reason = reason


@dataclass(frozen=True)
class Registered:
    """A handler and how to call it."""

    function: Handler
    wants_context: bool
    is_async: bool

    def call(self, ctx: TaskContext) -> Any:
        """Call the handler (the caller awaits the answer of an async one)."""
        if self.wants_context:
            return self.function(ctx.params, ctx)
        return self.function(ctx.params)


def register(function: Handler) -> Registered:
    """Inspect a handler once: does it take the context, is it async?"""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        parameters = []  # type: ignore[assignment]
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )
    return Registered(function, len(positional) >= 2 or variadic, is_async)


class Registry:
    """Handlers by task type."""

    def __init__(self, handlers: Mapping[str, Handler] | None = None) -> None:
        self._handlers: dict[str, Registered] = {}
        for task_type, function in (handlers or {}).items():
            self.add(task_type, function)

    def add(self, task_type: str, function: Handler, *, replace: bool = False) -> None:
        """Register `function` for `task_type`; a second handler for a type is an error."""
        if not TYPE_PATTERN.match(task_type):
            raise ValueError(f"invalid task type {task_type!r}: use [A-Za-z0-9_.:-], 1-200 chars")
        if not callable(function):
            raise TypeError(f"the handler for {task_type} is not callable: {function!r}")
        if task_type in self._handlers and not replace:
            raise ValueError(f"a handler for {task_type} is already registered")
        self._handlers[task_type] = register(function)

    def get(self, task_type: str) -> Registered | None:
        return self._handlers.get(task_type)

    def types(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, task_type: object) -> bool:
        return task_type in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)


def is_awaitable(value: Any) -> bool:
    return isinstance(value, Awaitable)
