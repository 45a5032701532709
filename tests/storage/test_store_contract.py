"""The Store contract, written once against the `store` fixture."""

from __future__ import annotations

from typing import Any

import pytest

from taskmanager.clock import ManualClock
from taskmanager.errors import (
    Conflict,
    InvalidState,
    LeaseLost,
    NotFound,
    TaskCancelled,
    TaskNotFound,
    ValidationFailed,
)
from taskmanager.models import (
    ClaimedTask,
    CompleteItem,
    FailRequest,
    HeartbeatRequest,
    TaskCreate,
    TaskTypeUpdate,
)
from taskmanager.status import TaskStatus
from taskmanager.storage import ClaimArgs, SQLStore, TaskFilter


def add(store: SQLStore, type_: str = "job", **fields: Any) -> str:
    (created,) = store.create_tasks([TaskCreate(type=type_, **fields)])
    assert created.created
    return created.task.id


def take(store: SQLStore, worker: str = "w", **fields: Any) -> ClaimedTask:
    claimed = store.claim(worker, fields.get("types"), fields.get("lease"), 1)
    assert len(claimed) == 1
    return claimed[0]


def test_create_then_get(store: SQLStore, clock: ManualClock) -> None:
    task_id = add(store, params={"a": 1}, priority=3)
    task = store.get_task(task_id)
    assert (task.type, task.params, task.priority, task.status) == ("job", {"a": 1}, 3, "pending")
    assert task.created_at == clock.now() == task.run_at


def test_get_unknown_task_raises_not_found(store: SQLStore) -> None:
    with pytest.raises(TaskNotFound):
        store.get_task("missing")


def test_create_is_idempotent_by_key(store: SQLStore) -> None:
    item = TaskCreate(type="job", idempotency_key="k", params={"v": 1})
    (first,) = store.create_tasks([item])
    (again,) = store.create_tasks([item])
    assert (first.created, again.created) == (True, False)
    assert again.task.id == first.task.id
    with pytest.raises(Conflict):
        store.create_tasks([TaskCreate(type="job", idempotency_key="k", params={"v": 2})])


def test_create_is_all_or_nothing(store: SQLStore) -> None:
    store.put_task_type("strict", TaskTypeUpdate(params_schema={"required": ["x"]}))
    items = [TaskCreate(type="job"), TaskCreate(type="strict", params={})]
    with pytest.raises(ValidationFailed):
        store.create_tasks(items)
    assert store.list_tasks(TaskFilter(), 10, None)[0] == []


def test_list_newest_first_with_cursor(store: SQLStore) -> None:
    ids = [add(store) for _ in range(5)]
    page, cursor = store.list_tasks(TaskFilter(), 2, None)
    rest, end = store.list_tasks(TaskFilter(), 10, cursor)
    assert [t.id for t in page + rest] == ids[::-1]
    assert end is None


def test_list_filters(store: SQLStore) -> None:
    add(store, "a")
    b = add(store, "b")
    take(store, "w", types=["b"])
    assert [t.id for t in store.list_tasks(TaskFilter(type="b"), 10, None)[0]] == [b]
    got = store.list_tasks(TaskFilter(status=TaskStatus.PROCESSING, worker_id="w"), 10, None)
    assert [t.id for t in got[0]] == [b]


def test_claim_order_and_limit(store: SQLStore) -> None:
    low = add(store, priority=0)
    high = add(store, priority=5)
    later = add(store, priority=0)
    claimed = store.claim("w", None, None, 2)
    assert [c.id for c in claimed] == [high, low]
    assert [c.id for c in store.claim("w", None, None, 5)] == [later]
    assert store.claim("w", None, None, 5) == []


def test_claim_respects_run_at(store: SQLStore, clock: ManualClock) -> None:
    task_id = add(store, delay_seconds=10)
    assert store.claim("w", None, None, 1) == []
    assert store.next_due_at(None) == store.get_task(task_id).run_at
    clock.advance(10)
    assert take(store).id == task_id


def test_claim_sets_lease_and_attempt(store: SQLStore, clock: ManualClock) -> None:
    add(store)
    task = take(store, lease=30)
    assert task.status == TaskStatus.PROCESSING
    assert task.attempts == 1
    assert task.lease_expires_at is not None
    assert (task.lease_expires_at - clock.now()).total_seconds() == 30


def test_expired_lease_is_reclaimed_then_fails_at_the_last_attempt(
    store: SQLStore, clock: ManualClock
) -> None:
    task_id = add(store, max_attempts=2)
    first = take(store, lease=5)
    clock.advance(5)
    second = take(store, "other")
    assert (second.id, second.attempts) == (task_id, 2)
    assert second.lease_token != first.lease_token
    clock.advance(60)
    assert store.claim("w", None, None, 1) == []
    assert store.get_task(task_id).status == TaskStatus.FAILED


def test_heartbeat_extends_and_reports(store: SQLStore, clock: ManualClock) -> None:
    add(store)
    task = take(store)
    clock.advance(20)
    beat = store.heartbeat(
        task.id, HeartbeatRequest(worker_id="w", lease_token=task.lease_token, progress=50)
    )
    assert beat.progress == 50
    assert beat.lease_expires_at is not None
    assert (beat.lease_expires_at - clock.now()).total_seconds() == 60


def test_fenced_calls_refuse_a_wrong_token(store: SQLStore) -> None:
    add(store)
    task = take(store)
    with pytest.raises(LeaseLost):
        store.heartbeat(task.id, HeartbeatRequest(worker_id="w", lease_token="bad"))
    with pytest.raises(LeaseLost):
        store.complete(task.id, {}, "w", "bad")
    with pytest.raises(LeaseLost):
        store.fail(task.id, FailRequest(error="e", lease_token="bad"))
    assert store.get_task(task.id).status == TaskStatus.PROCESSING


def test_complete_once_and_repeat(store: SQLStore) -> None:
    add(store)
    task = take(store)
    done = store.complete(task.id, {"r": 1}, "w", task.lease_token)
    assert done.status == TaskStatus.COMPLETED
    assert store.complete(task.id, {"r": 1}, "w", task.lease_token) == done
    with pytest.raises(InvalidState):
        store.complete(task.id, {"r": 2}, "w", task.lease_token)


def test_complete_many_reports_each(store: SQLStore) -> None:
    add(store)
    task = take(store)
    batch = store.complete_many(
        "w",
        [
            CompleteItem(id=task.id, lease_token=task.lease_token, result={}),
            CompleteItem(id="missing", lease_token="t"),
        ],
    )
    assert [o.outcome for o in batch.outcomes] == ["completed", "not_found"]
    assert batch.outcomes[0].task is not None and batch.outcomes[0].task.result == {}
    assert [task_type for task_type, _seconds in batch.processing] == ["job"]


def test_complete_many_without_tasks_still_completes(store: SQLStore, clock: ManualClock) -> None:
    add(store, type_="brief.job")
    task = take(store)
    clock.advance(3)
    item = CompleteItem(id=task.id, lease_token=task.lease_token, result={"r": 1})
    batch = store.complete_many("w", [item], with_tasks=False)
    assert [(o.outcome, o.task) for o in batch.outcomes] == [("completed", None)]
    assert batch.processing == [("brief.job", 3.0)]
    assert store.get_task(task.id).result == {"r": 1}
    again = store.complete_many("w", [item], with_tasks=False)
    assert [o.outcome for o in again.outcomes] == ["completed"]
    assert again.processing == []  # a repeat completes nothing


def test_fail_backs_off_then_fails(store: SQLStore, clock: ManualClock) -> None:
    task_id = add(store, max_attempts=2)
    task = take(store)
    back = store.fail(task_id, FailRequest(error="e1", lease_token=task.lease_token))
    assert back.status == TaskStatus.PENDING
    delay = (back.run_at - clock.now()).total_seconds()
    assert 1.6 <= delay <= 2.4
    clock.advance(delay)
    task = take(store)
    final = store.fail(task_id, FailRequest(error="e2", lease_token=task.lease_token))
    assert (final.status, final.error, final.attempts) == (TaskStatus.FAILED, "e2", 2)


def test_cancel_and_retry(store: SQLStore) -> None:
    add(store)
    task = take(store)
    assert store.cancel(task.id).status == TaskStatus.CANCELLED
    with pytest.raises(TaskCancelled):
        store.complete(task.id, {}, "w", task.lease_token)
    with pytest.raises(InvalidState):
        store.cancel(task.id)
    retried = store.retry(task.id)
    assert (retried.status, retried.attempts) == (TaskStatus.PENDING, 0)
    with pytest.raises(InvalidState):
        store.retry(task.id)


def test_workers_and_stats(store: SQLStore, clock: ManualClock) -> None:
    add(store)
    task = take(store, "w")
    clock.advance(4)
    store.complete(task.id, {}, "w", task.lease_token)
    stats = store.worker_stats("w")
    assert (stats.tasks_completed, stats.avg_processing_seconds) == (1, 4)
    assert [w.worker_id for w in store.list_workers()] == ["w"]
    with pytest.raises(NotFound):
        store.worker_stats("nobody")
    queue = store.queue_stats()
    assert queue.totals["completed"] == 1
    assert queue.processing_seconds_p50 == 4


def test_task_types(store: SQLStore) -> None:
    info = store.put_task_type("t", TaskTypeUpdate(max_attempts=4, description="d"))
    assert (info.type, info.max_attempts) == ("t", 4)
    assert store.get_task_type("t") == info
    assert [t.type for t in store.list_task_types()] == ["t"]
    with pytest.raises(NotFound):
        store.get_task_type("u")
    with pytest.raises(ValidationFailed):
        store.put_task_type("bad", TaskTypeUpdate(params_schema={"type": 12}))
    assert store.get_task(add(store, "t")).max_attempts == 4


def test_create_and_claim_leases_in_the_creating_transaction(store: SQLStore) -> None:
    made, leased = store.create_and_claim(
        [
            TaskCreate(type="mail", priority=1),
            TaskCreate(type="mail", priority=9),
            TaskCreate(type="sms"),
        ],
        [
            ClaimArgs("first", ["mail"], 30, 1),
            ClaimArgs("second", None, None, 5),
            ClaimArgs("third", ["mail"], None, 1),
        ],
    )
    mail_low, mail_high, sms = (created.task for created in made)
    # In claim order, each claim taking what the ones before it left.
    assert [[task.id for task in tasks] for tasks in leased] == [
        [mail_high.id],
        [mail_low.id, sms.id],
        [],
    ]
    first = leased[0][0]
    assert (first.worker_id, first.status, first.attempts) == ("first", "processing", 1)
    assert first.lease_expires_at is not None and first.claimed_at is not None
    assert (first.lease_expires_at - first.claimed_at).total_seconds() == 30
    assert store.get_task(sms.id).worker_id == "second"
    assert store.queue_stats().totals["processing"] == 3


def test_a_task_leased_as_it_is_created_is_whole(store: SQLStore) -> None:
    made, leased = store.create_and_claim(
        [TaskCreate(type="mail", params={"to": "a"}, idempotency_key="k1")],
        [ClaimArgs("w", None, 30, 1)],
    )
    (task,) = leased[0]
    assert task.params == {"to": "a"}
    assert made[0].task.status == "pending"  # the create answers with the task it created
    assert [event.event for event in store.task_events(task.id)] == ["created", "claimed"]
    assert store.queue_stats().totals["processing"] == 1
    assert store.queue_stats().totals["pending"] == 0
    assert [worker.worker_id for worker in store.list_workers()] == ["w"]
    done = store.complete_many("w", [CompleteItem(id=task.id, lease_token=task.lease_token)])
    assert done.outcomes[0].outcome == "completed"
    # The same create again names the task it made, and leases nothing.
    again, leased = store.create_and_claim(
        [TaskCreate(type="mail", params={"to": "a"}, idempotency_key="k1")],
        [ClaimArgs("w", None, 30, 1)],
    )
    assert (again[0].created, again[0].task.id, leased) == (False, task.id, [[]])


def test_create_and_claim_takes_the_tasks_already_waiting_first(
    store: SQLStore, clock: ManualClock
) -> None:
    older = add(store, "mail")
    lapsed = add(store, "sms")
    take(store, "gone", types=["sms"], lease=5)
    clock.advance(6)
    made, leased = store.create_and_claim(
        [TaskCreate(type="mail"), TaskCreate(type="sms")],
        [ClaimArgs("a", ["mail"], None, 1), ClaimArgs("b", ["sms"], None, 1)],
    )
    assert [[task.id for task in tasks] for tasks in leased] == [[older], [lapsed]]
    assert {store.get_task(created.task.id).status for created in made} == {"pending"}
    assert store.queue_stats().totals["processing"] == 2


def test_create_and_claim_leases_nothing_that_is_not_due(store: SQLStore) -> None:
    made, leased = store.create_and_claim(
        [TaskCreate(type="mail", delay_seconds=60)], [ClaimArgs("w", None, None, 1)]
    )
    assert leased == [[]]
    assert store.get_task(made[0].task.id).status == "pending"
