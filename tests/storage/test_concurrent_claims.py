"""The key storage test: many threads claim from one database until the queue is empty."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from taskmanager.models import TaskCreate
from taskmanager.status import TaskStatus
from taskmanager.storage import SQLStore, TaskFilter

TASKS = 2000
THREADS = 16


def work(store: SQLStore, worker: str, claimed: list[str], completed: list[str]) -> None:
    while True:
        batch = store.claim(worker, None, 600, 1)
        if not batch:
            return
        task = batch[0]
        claimed.append(task.id)
        store.complete(task.id, {"by": worker}, worker, task.lease_token)
        completed.append(task.id)


def test_every_task_is_claimed_and_completed_exactly_once(store: SQLStore) -> None:
    items = [TaskCreate(type="load", params={"i": i}) for i in range(TASKS)]
    for start in range(0, TASKS, 500):
        store.create_tasks(items[start : start + 500])
    created = {t.id for t in store.list_tasks(TaskFilter(), TASKS, None)[0]}
    assert len(created) == TASKS
    claims: list[list[str]] = [[] for _ in range(THREADS)]
    completions: list[list[str]] = [[] for _ in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        runs = [
            pool.submit(work, store, f"w{n}", claims[n], completions[n]) for n in range(THREADS)
        ]
    for run in runs:
        run.result()  # a claimer that crashed fails the test with its own error
    claimed = Counter(task_id for ids in claims for task_id in ids)
    completed = Counter(task_id for ids in completions for task_id in ids)
    assert set(claimed) == created and max(claimed.values()) == 1
    assert set(completed) == created and max(completed.values()) == 1
    done = store.list_tasks(TaskFilter(status=TaskStatus.COMPLETED), TASKS, None)[0]
    assert len(done) == TASKS
    assert sum(w.tasks_completed for w in store.list_workers()) == TASKS
    assert sum(1 for ids in claims if ids) > 1  # the claimers really ran side by side


def batch_work(store: SQLStore, worker: str, claimed: list[str]) -> None:
    while batch := store.claim(worker, None, 600, 10):
        assert len(batch) <= 10
        claimed += [task.id for task in batch]
        for task in batch:
            store.complete(task.id, {}, worker, task.lease_token)


def test_batch_claims_never_share_a_task(store: SQLStore) -> None:
    store.create_tasks([TaskCreate(type="load")] * 1000)
    claims: list[list[str]] = [[] for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        runs = [pool.submit(batch_work, store, f"b{n}", claims[n]) for n in range(8)]
    for run in runs:
        run.result()
    every = [task_id for ids in claims for task_id in ids]
    assert len(every) == len(set(every)) == 1000
