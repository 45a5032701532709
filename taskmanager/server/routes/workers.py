"""Workers and queue statistics."""

from __future__ import annotations

from fastapi import APIRouter

from taskmanager.errors import NotFound
from taskmanager.models import QueueStats, WorkerId, WorkerList, WorkerStats
from taskmanager.server.auth import Reader
from taskmanager.server.deps import StoreDep, errors

router = APIRouter(tags=["monitoring"])


@router.get("/workers", response_model=WorkerList, responses=errors())
def list_workers(store: StoreDep, _: Reader) -> WorkerList:
    """Every worker seen, most recently seen first."""
    return WorkerList(workers=store.list_workers())


@router.get("/workers/{worker_id}/stats", response_model=WorkerStats, responses=errors(NotFound))
def worker_stats(worker_id: WorkerId, store: StoreDep, _: Reader) -> WorkerStats:
    """One worker's counters, average processing time and current tasks."""
    return store.worker_stats(worker_id)


@router.get("/stats", response_model=QueueStats, responses=errors())
def queue_stats(store: StoreDep, _: Reader) -> QueueStats:
    """Queue depth by type and status, throughput, oldest pending age, processing time."""
    return store.queue_stats()
