"""The depth that /stats, /metrics and the dashboard show comes from counts kept by the writes.

Every test that uses a database also checks, when it ends, that the kept counts match the tasks
table (the `db_url` fixture); these tests follow the counts through each kind of change.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import func, select

from taskmanager.clock import ManualClock
from taskmanager.models import CompleteItem, FailRequest, TaskCreate
from taskmanager.retention import PurgePlan, purge
from taskmanager.status import TaskStatus
from taskmanager.storage import SQLStore, open_store
from taskmanager.storage.counts import fold_closed_slots, read_counts
from taskmanager.storage.schema import task_counts


def depth(store: SQLStore) -> dict[str, int]:
    """Non-zero totals by status, as GET /stats reports them."""
    return {status: n for status, n in store.queue_stats().totals.items() if n}


def test_every_change_of_status_moves_the_count(store: SQLStore, clock: ManualClock) -> None:
    made = store.create_tasks([TaskCreate(type="job") for _ in range(5)])
    ids = [created.task.id for created in made]
    assert depth(store) == {"pending": 5}

    claimed = store.claim("w", None, None, 4)
    assert depth(store) == {"pending": 1, "processing": 4}

    first, second, third, fourth = claimed
    store.complete_many(
        "w", [CompleteItem(id=first.id, lease_token=first.lease_token, result={"ok": 1})]
    )
    store.fail(second.id, FailRequest(lease_token=second.lease_token, error="x", retry=False))
    store.fail(third.id, FailRequest(lease_token=third.lease_token, error="x", retry=True))
    store.cancel(fourth.id)
    assert depth(store) == {"pending": 2, "completed": 1, "failed": 1, "cancelled": 1}

    store.retry(second.id)
    assert depth(store) == {"pending": 3, "completed": 1, "cancelled": 1}

    clock.advance(30 * 86400)
    finished = [TaskStatus.COMPLETED, TaskStatus.CANCELLED]
    purge(store, PurgePlan(statuses=finished, older_than=timedelta(days=1)))
    assert depth(store) == {"pending": 3}
    assert sorted(store.queue_stats().totals) == sorted(status.value for status in TaskStatus)
    assert store.get_task(ids[2]).status == TaskStatus.PENDING


def test_counts_by_type_in_stats_and_metrics(store: SQLStore) -> None:
    store.create_tasks([TaskCreate(type="email") for _ in range(3)] + [TaskCreate(type="pdf")])
    store.claim("w", ["pdf"], None, 1)
    stats = {(entry.type, entry.status): entry.count for entry in store.queue_stats().depth}
    assert stats == {("email", "pending"): 3, ("pdf", "processing"): 1}
    assert store.metric_counts().depth == {("email", "pending"): 3, ("pdf", "processing"): 1}


def test_folding_the_counts_of_closed_connections_keeps_every_sum(
    db_url: str, clock: ManualClock
) -> None:
    writers = [open_store(db_url, clock=clock) for _ in range(3)]
    for index, writer in enumerate(writers):
        assert isinstance(writer, SQLStore)
        writer.create_tasks([TaskCreate(type=f"t{index % 2}") for _ in range(index + 2)])
        writer.claim("w", None, None, 1)
    reader = writers[0]
    assert isinstance(reader, SQLStore)
    before = reader.metric_counts().depth
    slots_before = slots(reader)
    for writer in writers[1:]:
        writer.close()

    deadline = time.monotonic() + 10  # a server notices a closed connection soon, not at once
    while True:
        with reader.engine.begin() as conn:
            fold_closed_slots(conn)
        slots_after = slots(reader)
        if reader.dialect == "sqlite" or len(slots_after) < len(slots_before):
            break
        assert time.monotonic() < deadline, "the closed connections' counts were not folded"
        time.sleep(0.1)
    with reader.engine.connect() as conn:
        assert read_counts(conn).by_type == before
        assert conn.execute(select(func.sum(task_counts.c.n))).scalar_one() == 9
    assert slots_after <= slots_before | {0}
    reader.close()


def slots(store: SQLStore) -> set[int]:
    with store.engine.connect() as conn:
        return {int(slot) for (slot,) in conn.execute(select(task_counts.c.slot).distinct())}
