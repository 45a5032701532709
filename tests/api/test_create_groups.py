"""Single creates that reach the store in one turn of the event loop share one transaction,
and each is still answered as if it had come alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import pytest

from taskmanager.clock import ManualClock
from taskmanager.errors import ValidationFailed
from taskmanager.models import TaskCreate, TaskTypeUpdate
from taskmanager.server.app import create_app
from taskmanager.server.grouping import CreateGroups
from taskmanager.server.longpoll import Waiters
from taskmanager.server.settings import Settings
from taskmanager.storage import Created, SQLStore, TaskFilter

SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


class CountingStore:
    """The store, counting the `create_tasks` calls (transactions) it is asked for."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.clock = store.clock
        self.calls: list[int] = []

    def create_tasks(self, items: Sequence[TaskCreate]) -> list[Created]:
        self.calls.append(len(items))
        return self.store.create_tasks(items)


def _gather(groups: CreateGroups, items: list[TaskCreate]) -> list[Any]:
    async def main() -> list[Any]:
        made = await asyncio.gather(*(groups.create(i) for i in items), return_exceptions=True)
        return [m if isinstance(m, BaseException) else m[0] for m in made]

    return asyncio.run(main())


def test_creates_of_one_turn_share_a_transaction(store: SQLStore) -> None:
    counting = CountingStore(store)
    groups = CreateGroups(counting, Waiters(5))  # type: ignore[arg-type]
    items = [TaskCreate(type="grouped.job", params={"i": i}) for i in range(5)]
    outcomes = _gather(groups, items)
    assert counting.calls == [5]
    assert [o.task.params for o in outcomes] == [{"i": i} for i in range(5)]
    assert all(o.created for o in outcomes)
    assert len({o.task.id for o in outcomes}) == 5
    assert store.get_task(outcomes[3].task.id).params == {"i": 3}


def test_a_bad_create_fails_alone_and_the_others_are_made(store: SQLStore) -> None:
    store.put_task_type("checked.job", TaskTypeUpdate(params_schema=SCHEMA))
    counting = CountingStore(store)
    groups = CreateGroups(counting, Waiters(5))  # type: ignore[arg-type]
    items = [
        TaskCreate(type="checked.job", params={"n": 1}),
        TaskCreate(type="checked.job", params={"n": "two"}),
        TaskCreate(type="checked.job", params={"n": 3}),
    ]
    first, bad, third = _gather(groups, items)
    assert isinstance(bad, ValidationFailed)
    assert bad.message.startswith("params.n:")  # named as in a create of its own
    assert counting.calls == [3, 1, 1, 1]  # the group failed whole, then each went alone
    assert (first.task.params, third.task.params) == ({"n": 1}, {"n": 3})
    assert store.get_task(first.task.id).status == "pending"


def test_an_idempotent_create_goes_alone(store: SQLStore) -> None:
    counting = CountingStore(store)
    groups = CreateGroups(counting, Waiters(5))  # type: ignore[arg-type]
    keyed = TaskCreate(type="keyed.job", idempotency_key="once")
    outcomes = _gather(groups, [keyed, TaskCreate(type="keyed.job"), keyed])
    assert [o.created for o in outcomes] == [True, True, False]
    assert outcomes[0].task.id == outcomes[2].task.id
    assert sorted(counting.calls) == [1, 1, 1]


def test_a_create_whose_caller_left_is_not_made(store: SQLStore) -> None:
    counting = CountingStore(store)
    groups = CreateGroups(counting, Waiters(5))  # type: ignore[arg-type]

    async def main() -> Created:
        left = asyncio.ensure_future(groups.create(TaskCreate(type="left.job")))
        stays = asyncio.ensure_future(groups.create(TaskCreate(type="stays.job")))
        await asyncio.sleep(0)  # both are waiting for the group now
        left.cancel()
        return (await stays)[0]

    assert asyncio.run(main()).task.type == "stays.job"
    assert counting.calls == [1]
    assert store.list_tasks(TaskFilter(type="left.job"), 10, None) == ([], None)


@pytest.mark.parametrize("store_calls", ["event-loop", "threads"])
def test_concurrent_creates_over_http_each_get_their_own_answer(
    db_url: str, clock: ManualClock, store: SQLStore, store_calls: str
) -> None:
    store.put_task_type("checked.job", TaskTypeUpdate(params_schema=SCHEMA))
    settings = Settings(database_url=db_url, migrate_on_start=False, store_calls=store_calls)
    app = create_app(settings, clock=clock)

    async def main() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                bodies = [{"type": "checked.job", "params": {"n": n}} for n in range(8)]
                bodies[5]["params"] = {"n": "five"}
                return await asyncio.gather(*(client.post("/api/tasks", json=b) for b in bodies))

    answers = asyncio.run(main())
    assert [a.status_code for a in answers] == [201] * 5 + [422] + [201] * 2
    assert answers[5].json()["message"].startswith("params.n:")
    made = [a.json() for a in answers if a.status_code == 201]
    assert [t["params"]["n"] for t in made] == [0, 1, 2, 3, 4, 6, 7]
    assert all(store.get_task(t["id"]).params == t["params"] for t in made)
