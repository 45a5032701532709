"""How long the read endpoints take on the benchmark's table: stats and pages of the task list.

Measured after the drain, so the table holds the completed tasks (and the backlog, if any). Each
read is timed `tries` times through HTTP, one at a time; the figure is the median in ms.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from taskmanager.bench.workers import BENCH_TYPE
from taskmanager.client import Client

# (figure, what it reads): each a question a dashboard or an operator asks of a big queue.
READS: dict[str, Callable[[Client], Any]] = {
    "stats_ms": lambda client: client.stats(),
    "list_newest_ms": lambda client: client.list_tasks(limit=50),
    "list_completed_ms": lambda client: client.list_tasks(status="completed", limit=50),
    "list_pending_of_type_ms": lambda client: client.list_tasks(
        status="pending", type=BENCH_TYPE, limit=50
    ),
    # None of these exist: the answer is an empty page, however many other tasks there are.
    "list_failed_ms": lambda client: client.list_tasks(status="failed", limit=50),
}
TRIES = 20


def time_reads(api_url: str, progress: Callable[[str, int, int], None]) -> dict[str, float]:
    """Median milliseconds of each read of `READS`."""
    figures: dict[str, float] = {}
    with Client(api_url, timeout=120) as client:
        client.list_tasks(limit=1)  # the connection is open before the clock starts
        for number, (figure, read) in enumerate(READS.items()):
            samples = []
            for _ in range(TRIES):
                started = time.perf_counter()
                read(client)
                samples.append(time.perf_counter() - started)
            figures[figure] = statistics.median(samples) * 1000
            progress("reads", number + 1, len(READS))
    return figures
