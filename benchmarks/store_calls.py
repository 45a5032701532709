"""Time the store calls of the idle path and of the drain, on a scratch SQLite database.

The idle path's calls run after a pause (`--gap`, 20 ms by default), as they do when a worker
waits for work: the caches are cold then, and each call costs several times what it costs
straight after another. Prints the median wall time, in microseconds, of each:

- create: one task created;
- claim: one task claimed;
- handed: one task created and leased to one waiting claim in the same transaction
  (`Store.create_and_claim`, what a create does when a worker waits in a long poll);
- empty claim: a claim that finds nothing.

Then the drain's: the store's CPU per task of a claim of 32 (`--batch`) and `complete_many` of
those, back to back, on a backlog of 20,000, median of 5 rounds of 3,200 tasks;
`--outcomes-only` completes as the worker does, without the tasks in the answer.

    .venv/bin/python benchmarks/store_calls.py [--tries 400] [--gap 0.02] [--skip-idle]
        [--batch 32] [--outcomes-only]

Run it with `PYTHONPATH=<another checkout>` to time that code instead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from taskmanager.models import CompleteItem, TaskCreate
from taskmanager.storage import ClaimArgs, EngineOptions, SQLStore, make_engine


def fresh_store() -> SQLStore:
    folder = tempfile.mkdtemp(prefix="taskmanager-store-calls-")
    store = SQLStore(make_engine(f"sqlite:///{folder}/tasks.db", EngineOptions()))
    store.migrate()
    return store


def idle_path(tries: int, gap: float) -> dict[str, float]:
    store = fresh_store()
    one = [TaskCreate(type="job", params={"n": 1})]
    calls: dict[str, Callable[[str], Any]] = {
        "create": lambda worker: store.create_tasks(one),
        "claim": lambda worker: store.claim(worker, None, None, 1),
        "handed": lambda worker: store.create_and_claim(one, [ClaimArgs(worker, None, None, 1)]),
        "empty claim": lambda worker: store.claim(worker, None, None, 1),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    for attempt in range(tries):
        for name, call in calls.items():
            time.sleep(gap)
            started = time.perf_counter()
            call(f"worker-{attempt % 4}")
            times[name].append((time.perf_counter() - started) * 1e6)
    store.close()
    return {name: statistics.median(spent) for name, spent in times.items()}


def drain(batch: int = 32, outcomes_only: bool = False, rounds: int = 5) -> float:
    store = fresh_store()
    for _ in range(20):
        store.create_tasks([TaskCreate(type="job", params={"n": n}) for n in range(1000)])
    per_task = []
    for _ in range(rounds):
        started, done = time.thread_time(), 0
        for index in range(3200 // batch):
            worker = f"worker-{index % 4}"
            leased = store.claim(worker, None, None, batch)
            items = [
                CompleteItem(id=task.id, lease_token=task.lease_token, result={"ok": True})
                for task in leased
            ]
            store.complete_many(worker, items, with_tasks=not outcomes_only)
            done += len(leased)
        per_task.append((time.thread_time() - started) / done * 1e6)
    store.close()
    return statistics.median(per_task)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=400)
    parser.add_argument("--gap", type=float, default=0.02, help="seconds idle before each call")
    parser.add_argument("--skip-idle", action="store_true", help="time the drain only")
    parser.add_argument("--batch", type=int, default=32, choices=range(1, 101), metavar="1-100")
    parser.add_argument("--outcomes-only", action="store_true")
    options = parser.parse_args()
    if not options.skip_idle:
        idle = idle_path(options.tries, options.gap)
        print("idle path, median µs:", "  ".join(f"{name} {us:.0f}" for name, us in idle.items()))
    spent = drain(options.batch, options.outcomes_only)
    print(f"drain, store CPU µs per task (claim {options.batch} + complete_many): {spent:.0f}")


if __name__ == "__main__":
    main()
