"""Per-process metrics: HTTP requests, claim durations, queue wait and processing times.

These are measured where they happen, in each API process; Prometheus sums them over the
processes it scrapes. Numbers that must be global (depth, totals) come from the database in
`taskmanager.server.routes.metrics` instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.models import Task
from taskmanager.server.batch_histogram import BatchHistogram

REGISTRY = CollectorRegistry(auto_describe=True)

_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_TASK_SECONDS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)

HTTP_REQUESTS = Counter(
    "taskmanager_http_requests",
    "HTTP requests answered by this process, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "taskmanager_http_request_duration_seconds",
    "Time to answer an HTTP request (long polls included), by method and route template.",
    ["method", "route"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
CLAIM_DURATION = Histogram(
    "taskmanager_claim_duration_seconds",
    "Time one claim transaction takes in the database (long-poll waiting excluded).",
    buckets=_SECONDS,
    registry=REGISTRY,
)
QUEUE_WAIT = BatchHistogram(
    "taskmanager_task_queue_wait_seconds",
    "Time from when a task was due (run_at) to its claim, by type.",
    _TASK_SECONDS,
    REGISTRY,
)
PROCESSING = BatchHistogram(
    "taskmanager_task_processing_seconds",
    "Time from claim to completion of completed tasks, by type.",
    _TASK_SECONDS,
    REGISTRY,
)


# The labelled children in use, by their labels: `labels()` takes a lock and checks its
# arguments on every call, as long as observing itself.
_CHILDREN: dict[tuple[Histogram | Counter, tuple[str, ...]], Any] = {}


def _child(metric: Histogram | Counter, *labels: str) -> Any:
    key = (metric, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = metric.labels(*labels)
    return child


def observe_claim(seconds: float, claimed: Iterable[Task]) -> None:
    """One claim transaction, and how long each task it leased waited."""
    CLAIM_DURATION.observe(seconds)
    observe_leased(claimed)


def observe_leased(claimed: Iterable[Task]) -> None:
    """How long each task just leased waited."""
    QUEUE_WAIT.observe(
        (task.type, (task.claimed_at - task.run_at).total_seconds())
        for task in claimed
        if task.claimed_at is not None
    )


def observe_completed(completed: Iterable[Task]) -> None:
    """Processing times of tasks just completed."""
    PROCESSING.observe(
        (task.type, (task.completed_at - task.claimed_at).total_seconds())
        for task in completed
        if task.claimed_at is not None and task.completed_at is not None
    )


def observe_processing(completed: Iterable[tuple[str, float]]) -> None:
    """Processing times, as (type, seconds held), of tasks just completed."""
    PROCESSING.observe(completed)


class HttpMetrics:
    """ASGI middleware counting requests by route template (never by raw path: ids vary)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            observe_request(scope, status, started)


def observe_request(scope: Scope, status: int, started: float) -> None:
    """One request answered with `status`, begun at `started` (`time.perf_counter()`)."""
    route = _route_label(scope)
    method = str(scope.get("method", ""))
    _child(HTTP_REQUESTS, method, route, str(status)).inc()
    _child(HTTP_DURATION, method, route).observe(time.perf_counter() - started)


def _route_label(scope: Scope) -> str:
    """The path with its parameters named (`/api/tasks/{task_id}`): ids would explode labels."""
    if scope.get("route") is None:
        return "unmatched"
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    segments = str(scope.get("path", "")).split("/")
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in segments)
