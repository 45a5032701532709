"""One benchmark run: enqueue N tasks, drain them with W worker processes, time idle latency."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskmanager.bench import stamps
from taskmanager.bench.figures import drain_rates, percentile
from taskmanager.bench.reads import time_reads
from taskmanager.bench.target import BenchError, Server, cpu_seconds, running_server
from taskmanager.bench.workers import BENCH_TYPE, DONE, STARTED, start_workers, stop_workers
from taskmanager.client import AsyncClient, Client
from taskmanager.errors import TaskManagerError
from taskmanager.models import TaskCreate
from taskmanager.storage import open_store

BATCH_SIZE = 1000
SINGLE_MAX = 2000
POLL_SECONDS = 0.02
LATENCY_PAUSE_SECONDS = 0.05
LATENCY_TIMEOUT_SECONDS = 10.0
STALL_SECONDS = 60.0

# A progress callback: (phase, done, total).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class BenchOptions:
    """What to measure, and against what."""

    tasks: int = 20_000
    workers: int = 4
    concurrency: int = 100
    latency_tries: int = 50
    enqueue_clients: int = 4
    idle_polls: int = 0
    api_url: str | None = None
    database_url: str | None = None
    server_workers: int | None = None
    backlog: int = 0


def run_once(options: BenchOptions, progress: Progress) -> dict[str, Any]:
    """Measure once; every figure of the report, as plain numbers."""
    with running_server(options.api_url, options.database_url, options.server_workers) as (
        api_url,
        server,
    ):
        return _measure(api_url, server, options, progress)


def _measure(
    api_url: str, server: Server | None, options: BenchOptions, progress: Progress
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if options.backlog and server is not None:
        _fill_backlog(server.database_url, options.backlog, progress)
        figures["backlog"] = options.backlog
    single = min(max(options.tasks // 10, 1), SINGLE_MAX)
    with Client(api_url) as client:
        figures["enqueue_single_per_s"] = asyncio.run(
            _enqueue_single(api_url, single, options.enqueue_clients, progress, options.tasks)
        )
        figures["enqueue_batch_per_s"] = _enqueue_batched(
            client, options.tasks - single, progress, single, options.tasks
        )
    with tempfile.TemporaryDirectory(prefix="taskmanager-bench-stamps-") as tmp:
        stamp_dir = Path(tmp)
        server_cpu = server.cpu_seconds() if server is not None else 0.0
        started_at = time.time()
        processes = start_workers(api_url, options.workers, options.concurrency, stamp_dir)
        try:
            peak = _wait_drained(stamp_dir, options.tasks, processes, server, progress)
            pids = [process.pid for process in processes]
            figures["worker_cpu_ms_per_task"] = cpu_seconds(pids) * 1000 / options.tasks
            if server is not None:
                server_cpu = server.cpu_seconds() - server_cpu
                figures["server_cpu_ms_per_task"] = server_cpu * 1000 / options.tasks
            done = stamps.read(stamp_dir, DONE)
            figures["drain_per_s"], figures["steady_drain_per_s"] = drain_rates(started_at, done)
            figures["drain_seconds"] = (done[-1] - started_at) if done else 0.0
            figures["completed"] = len(done)
            if not options.backlog:  # with a backlog the workers are never idle
                tries = options.latency_tries
                latencies = _idle_latencies(api_url, stamp_dir, tries, progress)
                figures["idle_latency_median_ms"] = statistics.median(latencies) * 1000
                figures["idle_latency_p90_ms"] = percentile(latencies, 0.9) * 1000
            figures.update(time_reads(api_url, progress))
            if server is not None:
                figures["server_rss_peak_mb"] = peak / 2**20
                figures["server_rss_idle_mb"] = server.rss_bytes() / 2**20
        finally:
            stop_workers(processes)
    if server is not None and options.idle_polls:
        figures["idle_polls"] = options.idle_polls
        figures["server_rss_idle_polls_mb"] = (
            asyncio.run(_idle_poll_rss(api_url, server, options.idle_polls)) / 2**20
        )
    return figures


def _fill_backlog(database_url: str, count: int, progress: Progress) -> None:
    """`count` pending tasks queued ahead of the measured ones, written through the store."""
    store = open_store(database_url)
    try:
        made = 0
        while made < count:
            size = min(BATCH_SIZE, count - made)
            store.create_tasks([TaskCreate(type=BENCH_TYPE)] * size)
            made += size
            progress("backlog", made, count)
    finally:
        store.close()


async def _enqueue_single(
    api_url: str, count: int, clients: int, progress: Progress, total: int
) -> float:
    """Tasks/s creating one task per request, from `clients` concurrent connections."""
    made = 0

    async def producer(client: AsyncClient, share: int) -> None:
        nonlocal made
        for _ in range(share):
            await client.create_task(BENCH_TYPE, {})
            made += 1
            progress("enqueue", made, total)

    shares = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]
    async with AsyncClient(api_url) as client:
        started = time.perf_counter()
        await asyncio.gather(*(producer(client, share) for share in shares if share))
        return count / (time.perf_counter() - started)


def _enqueue_batched(
    client: Client, count: int, progress: Progress, base: int, total: int
) -> float:
    """Tasks/s creating tasks in batches of 1000, one request at a time."""
    if count <= 0:
        return 0.0
    started = time.perf_counter()
    made = 0
    while made < count:
        size = min(BATCH_SIZE, count - made)
        client.create_tasks([{"type": BENCH_TYPE}] * size)
        made += size
        progress("enqueue", base + made, total)
    return count / (time.perf_counter() - started)


def _wait_drained(
    stamp_dir: Path,
    total: int,
    processes: list[subprocess.Popen[bytes]],
    server: Server | None,
    progress: Progress,
) -> int:
    """Until every task is completed; returns the server's peak RSS seen meanwhile."""
    peak, last, last_change = 0, -1, time.monotonic()
    while True:
        done = stamps.count(stamp_dir, DONE)
        progress("drain", min(done, total), total)
        if done >= total:
            return peak
        if done != last:
            last, last_change = done, time.monotonic()
        if time.monotonic() - last_change > STALL_SECONDS:
            raise BenchError(f"no task completed for {STALL_SECONDS:g} s ({done} of {total} done)")
        if all(process.poll() is not None for process in processes):
            raise BenchError(f"every worker process exited ({done} of {total} done)")
        if server is not None:
            peak = max(peak, server.rss_bytes())
        time.sleep(POLL_SECONDS)


def _idle_latencies(api_url: str, stamp_dir: Path, tries: int, progress: Progress) -> list[float]:
    """Seconds from creating a task to its handler starting, the workers idle and waiting."""
    found: list[float] = []
    seen = stamps.count(stamp_dir, STARTED)
    with Client(api_url) as client:
        for attempt in range(tries):
            time.sleep(LATENCY_PAUSE_SECONDS)  # the workers are back in their long polls
            created = time.time()
            client.create_task(BENCH_TYPE, {})
            seen += 1
            deadline = time.monotonic() + LATENCY_TIMEOUT_SECONDS
            while stamps.count(stamp_dir, STARTED) < seen:
                if time.monotonic() > deadline:
                    raise BenchError("an idle worker did not start a new task within 10 s")
                time.sleep(0.0005)
            found.append(stamps.read(stamp_dir, STARTED)[-1] - created)
            progress("latency", attempt + 1, tries)
    return found


async def _idle_poll_rss(api_url: str, server: Server, polls: int) -> float:
    """Server RSS while `polls` claims long-poll an empty queue at once."""
    limits = httpx.Limits(max_connections=polls + 10, max_keepalive_connections=polls + 10)
    async with httpx.AsyncClient(base_url=api_url + "/", limits=limits, timeout=60) as http:
        body = {"worker_id": "bench-idle", "task_types": ["bench.idle"], "wait_seconds": 20}
        waiting = [
            asyncio.create_task(http.post("tasks/claim", json={**body, "worker_id": f"idle-{i}"}))
            for i in range(polls)
        ]
        await asyncio.sleep(3.0)
        rss = server.rss_bytes()
        for call in waiting:
            call.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
    return float(rss)


def check_reachable(api_url: str) -> None:
    """BenchError when the API at `api_url` does not answer its health check."""
    try:
        with Client(api_url, timeout=5) as client:
            client.health()
    except TaskManagerError as exc:
        raise BenchError(f"--api-url: {exc.message}") from None
