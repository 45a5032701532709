"""A claim waiting in a long poll is leased its task by the create itself, in the create's
transaction, when its server tells requests of a hang-up: its answer needs no transaction of
its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.longpoll import Waiters
from taskmanager.server.protocol import HUNG_UP
from taskmanager.server.settings import Settings
from taskmanager.storage import Store


@dataclass
class Api:
    client: httpx.AsyncClient
    store: Store
    waiters: Waiters
    # The limit of each claim transaction the store was asked for.
    claims: list[int] = field(default_factory=list)

    async def waiting(self, count: int, **body: Any) -> list[asyncio.Task[httpx.Response]]:
        """`count` claims of one task each, once all of them wait in their long polls."""
        polls = [
            asyncio.create_task(
                self.client.post(
                    "/tasks/claim", json={"worker_id": f"w{i}", "wait_seconds": 10, **body}
                )
            )
            for i in range(count)
        ]
        for _ in range(500):
            if self.waiters.waiting == count:
                return polls
            await asyncio.sleep(0.01)
        raise AssertionError("the claims did not start waiting")

    async def create(self, **body: Any) -> dict[str, Any]:
        answer = await self.client.post("/tasks", json={"type": "mail", **body})
        assert answer.status_code == 201
        created: dict[str, Any] = answer.json()
        return created


@asynccontextmanager
async def serving(db_url: str, clock: ManualClock) -> AsyncIterator[Api]:
    """The app with its store called on the event loop, each request told of hang-ups (none
    here), and the store's own claim transactions counted."""
    settings = Settings(database_url=db_url, migrate_on_start=False, store_calls="event-loop")
    app = create_app(settings, clock=clock)

    async def told_of_hang_ups(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "extensions": {HUNG_UP: {"check": lambda: False}}}
        await app(scope, receive, send)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=told_of_hang_ups)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/api") as client:
            ready = Api(client, app.state.store, app.state.waiters)
            claim = ready.store.claim

            def counted(*args: Any) -> Any:
                ready.claims.append(args[-1])
                return claim(*args)

            ready.store.claim = counted  # type: ignore[method-assign]
            yield ready


def run(scenario: Callable[[Api], Awaitable[None]], db_url: str, clock: ManualClock) -> None:
    async def main() -> None:
        async with serving(db_url, clock) as ready:
            await scenario(ready)

    asyncio.run(main())


def test_a_waiting_claim_is_answered_with_the_task_the_create_leased_it(
    db_url: str, clock: ManualClock
) -> None:
    async def scenario(api: Api) -> None:
        (poll,) = await api.waiting(1)
        assert api.claims == [1]  # it looked once, found nothing, and waits
        created = await api.create(params={"to": "ann"})
        assert poll.done()  # answered before the creator
        claimed = (await poll).json()
        assert (claimed["id"], claimed["params"]) == (created["id"], {"to": "ann"})
        assert (claimed["status"], claimed["worker_id"], claimed["attempts"]) == (
            "processing",
            "w0",
            1,
        )
        assert claimed["lease_token"]
        assert api.claims == [1]  # no claim transaction of its own
        task = api.store.get_task(created["id"])
        assert (task.status, task.worker_id) == ("processing", "w0")
        done = await api.client.post(
            f"/tasks/{created['id']}/complete",
            json={"worker_id": "w0", "lease_token": claimed["lease_token"], "result": {}},
        )
        assert done.json()["status"] == "completed"

    run(scenario, db_url, clock)


def test_creates_of_one_turn_are_shared_among_the_waiting_claims(
    db_url: str, clock: ManualClock
) -> None:
    async def scenario(api: Api) -> None:
        polls = await api.waiting(2)
        created = await asyncio.gather(*(api.create(params={"n": n}) for n in range(3)))
        claimed = [(await poll).json() for poll in polls]
        assert sorted(c["worker_id"] for c in claimed) == ["w0", "w1"]
        ids = {c["id"] for c in created}
        assert len({c["id"] for c in claimed} & ids) == 2
        statuses = sorted(api.store.get_task(i).status for i in ids)
        assert statuses == ["pending", "processing", "processing"]

    run(scenario, db_url, clock)


def test_a_task_not_yet_due_or_of_another_type_is_not_handed(
    db_url: str, clock: ManualClock
) -> None:
    async def scenario(api: Api) -> None:
        (poll,) = await api.waiting(1, task_types=["mail"])
        later = await api.create(delay_seconds=60)
        other = await api.create(type="sms")
        await asyncio.sleep(0.1)
        assert not poll.done()
        assert api.store.get_task(later["id"]).status == "pending"
        assert api.store.get_task(other["id"]).status == "pending"
        due = await api.create()
        assert (await poll).json()["id"] == due["id"]

    run(scenario, db_url, clock)


def test_a_claim_of_many_takes_every_task_a_batch_of_creates_makes_at_once(
    db_url: str, clock: ManualClock
) -> None:
    async def scenario(api: Api) -> None:
        poll = asyncio.create_task(
            api.client.post(
                "/tasks/claim/batch", json={"worker_id": "w", "wait_seconds": 10, "limit": 5}
            )
        )
        while api.waiters.waiting == 0:
            await asyncio.sleep(0.01)
        await asyncio.gather(*(api.create(params={"n": n}) for n in range(3)))
        claimed = (await poll).json()["tasks"]
        assert sorted(c["params"]["n"] for c in claimed) == [0, 1, 2]
        assert api.claims == [5]

    run(scenario, db_url, clock)
