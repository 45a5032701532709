"""Time the store's read endpoints on a big tasks table.

Fills a database with N tasks (90 % completed, 10 % pending, 0.1 % failed; four types, eight
workers) written straight to the table, counts them as the migration would, updates the
planner's statistics, then times the store's stats, overview, metrics and history reads (the
medians of 7 calls each, milliseconds).

    .venv/bin/python benchmarks/big_table.py sqlite:////tmp/big.db --tasks 1000000
    .venv/bin/python benchmarks/big_table.py postgresql://postgres@127.0.0.1:5432/big
    .venv/bin/python benchmarks/big_table.py mysql://root@127.0.0.1:3306/big

The database must exist and be empty (SQLite: the file is made).
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from taskmanager.storage import SQLStore, open_store
from taskmanager.storage.schema import tasks

CHUNK = 20_000


def _row(index: int, total: int, now: datetime) -> dict[str, Any]:
    rest = index % 1000
    status = "failed" if rest == 0 else ("pending" if rest < 100 else "completed")
    at = now - timedelta(seconds=(total - index) / 1000)
    done = status != "pending"
    return {
        "id": str(uuid.uuid4()),
        "type": f"type{index % 4}",
        "status": status,
        "params": "{}",
        "priority": 0,
        "created_at": at,
        "run_at": at,
        "claimed_at": at if done else None,
        "completed_at": at if done else None,
        "worker_id": f"w{index % 8}" if done else None,
        "attempts": 1 if done else 0,
        "max_attempts": 3,
    }


def fill(store: SQLStore, total: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.engine.begin() as conn:
        for start in range(0, total, CHUNK):
            rows = [_row(i, total, now) for i in range(start, min(total, start + CHUNK))]
            conn.execute(tasks.insert(), rows)
            print(f"\r{min(total, start + CHUNK):,} tasks", end="", flush=True)
        conn.execute(text("DELETE FROM task_counts"))
        conn.execute(
            text(
                "INSERT INTO task_counts (type, status, slot, n)"
                " SELECT type, status, 0, COUNT(*) FROM tasks GROUP BY type, status"
            )
        )
    analyze = {"sqlite": "ANALYZE", "postgresql": "ANALYZE tasks"}.get(
        store.dialect, "ANALYZE TABLE tasks"
    )
    with store.engine.begin() as conn:
        conn.execute(text(analyze))
    print()


def median_ms(call: Callable[[], object], times: int = 7) -> float:
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    args = parser.parse_args()
    store = open_store(args.url)
    assert isinstance(store, SQLStore)
    store.migrate()
    fill(store, args.tasks)
    reads: dict[str, Callable[[], object]] = {
        "stats": store.queue_stats,
        "overview": lambda: store.queue_overview(3600),
        "metrics": store.metric_counts,
        "history": lambda: store.queue_history(60),
    }
    print("  ".join(f"{name} {median_ms(read):.1f} ms" for name, read in reads.items()))
    store.close()


if __name__ == "__main__":
    main()
