"""`GET /metrics`: Prometheus text format.

Depth, oldest pending age and the created/completed/failed counters are read from the
database at scrape time, so every API process reports the same numbers; the rest is measured
in this process (see `taskmanager.server.instruments`).
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from taskmanager.server import instruments
from taskmanager.server.auth import EVERY_ROLE, _caller, authorize
from taskmanager.server.deps import SettingsDep, StoreDep, store_call
from taskmanager.status import TaskStatus
from taskmanager.storage import Store
from taskmanager.storage.overview import MetricCounts

router = APIRouter(tags=["monitoring"])


def _counter(name: str, doc: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=["type"])
    for task_type, value in sorted(values.items()):
        family.add_metric([task_type], value)
    return family


def families(counts: MetricCounts) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """The database-wide metric families for one scrape."""
    depth = GaugeMetricFamily(
        "taskmanager_tasks",
        "Tasks now in the database, by type and status.",
        labels=["type", "status"],
    )
    types = sorted({task_type for task_type, _ in counts.depth} | set(counts.created))
    for task_type in types:
        for status in TaskStatus:
            depth.add_metric(
                [task_type, status.value], counts.depth.get((task_type, status.value), 0)
            )
    yield depth
    oldest = GaugeMetricFamily(
        "taskmanager_oldest_pending_age_seconds",
        "How long the oldest due pending task of each type has waited.",
        labels=["type"],
    )
    for task_type in types:
        oldest.add_metric([task_type], counts.oldest_pending_age_seconds.get(task_type, 0.0))
    yield oldest
    yield _counter("taskmanager_tasks_created", "Tasks created, by type.", counts.created)
    yield _counter("taskmanager_tasks_completed", "Tasks completed, by type.", counts.completed)
    yield _counter(
        "taskmanager_tasks_failed", "Tasks failed for good (last attempt), by type.", counts.failed
    )


class DatabaseCollector(Collector):
    """Reads the global numbers from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from families(self.store.metric_counts())


def render(store: Store) -> bytes:
    """This process's metrics followed by the database-wide ones."""
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(store))
    return generate_latest(instruments.REGISTRY) + generate_latest(database)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(store: StoreDep, settings: SettingsDep, request: Request) -> Response:
    """Prometheus metrics: queue depth and totals from the database, HTTP and claim timings."""
    # Async for the reason given in routes/workers.py; the caller's key may need the database.
    if settings.metrics_require_key:
        caller = await store_call(request, _caller, request)
        authorize(caller, *EVERY_ROLE)  # 401 without a key, as on the API
    return Response(await store_call(request, render, store), media_type=CONTENT_TYPE_LATEST)
