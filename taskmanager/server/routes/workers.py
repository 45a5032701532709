"""Workers and queue statistics."""

from __future__ import annotations

from fastapi import APIRouter, Request

from taskmanager.errors import NotFound
from taskmanager.models import QueueStats, WorkerId, WorkerList, WorkerStats
from taskmanager.server.auth import Reader
from taskmanager.server.deps import StoreDep, errors, store_call

router = APIRouter(tags=["monitoring"])

# Async around `store_call`, like the busiest routes: where those call the store on the event
# loop, a read in a thread would wait for the interpreter behind every one of them (each row it
# fetches hands the interpreter back and waits to get it again) and take tens of milliseconds
# under load instead of a few.


@router.get("/workers", response_model=WorkerList, responses=errors())
async def list_workers(store: StoreDep, http: Request, _: Reader) -> WorkerList:
    """Every worker seen, most recently seen first."""
    return WorkerList(workers=await store_call(http, store.list_workers))


@router.get("/workers/{worker_id}/stats", response_model=WorkerStats, responses=errors(NotFound))
async def worker_stats(
    worker_id: WorkerId, store: StoreDep, http: Request, _: Reader
) -> WorkerStats:
    """One worker's counters, average processing time and current tasks."""
    return await store_call(http, store.worker_stats, worker_id)


@router.get("/stats", response_model=QueueStats, responses=errors())
async def queue_stats(store: StoreDep, http: Request, _: Reader) -> QueueStats:
    """Queue depth by type and status, throughput, oldest pending age, processing time."""
    return await store_call(http, store.queue_stats)
