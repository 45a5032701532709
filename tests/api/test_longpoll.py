"""Long polls, in process: a waiting claim answers as soon as work for it exists."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings

# Far longer than the server needs to answer a woken claim, far shorter than its wait.
PROMPT = 10.0
Client = httpx.AsyncClient


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[Client]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def run(
    db_url: str,
    clock: ManualClock,
    scenario: Callable[[Client], Awaitable[None]],
    **overrides: Any,
) -> None:
    # Rechecks as rare as allowed: only a wake-up can answer a waiting claim early.
    settings = Settings(
        database_url=db_url, migrate_on_start=False, long_poll_recheck_seconds=30, **overrides
    )
    app = create_app(settings, clock=clock)

    async def main() -> None:
        async with running(app) as client:
            await scenario(client)

    asyncio.run(main())


async def claim(client: Client, wait: float, **fields: Any) -> Any:
    body = {"worker_id": "waiter", "wait_seconds": wait, **fields}
    response = await client.post("/api/tasks/claim", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def waiting(client: Client, **fields: Any) -> asyncio.Task[Any]:
    """Start a 30 s long poll and give it time to start waiting."""
    pending = asyncio.create_task(claim(client, 30, **fields))
    await asyncio.sleep(0.3)
    assert not pending.done()
    return pending


async def create(client: Client, type_: str = "job", **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/tasks", json={"type": type_, **fields})
    assert response.status_code == 201
    body: dict[str, Any] = response.json()
    return body


def test_waiting_claim_gets_a_task_created_meanwhile(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        pending = await waiting(client)
        task = await create(client)
        claimed = await asyncio.wait_for(pending, PROMPT)
        assert claimed["id"] == task["id"]
        assert claimed["worker_id"] == "waiter" and claimed["lease_token"]

    run(db_url, clock, scenario)


def test_waiting_batch_claim_gets_a_batch_created_meanwhile(
    db_url: str, clock: ManualClock
) -> None:
    async def scenario(client: Client) -> None:
        body = {"worker_id": "w", "wait_seconds": 30, "limit": 5}
        pending = asyncio.create_task(client.post("/api/tasks/claim/batch", json=body))
        await asyncio.sleep(0.3)
        await client.post("/api/tasks/batch", json={"tasks": [{"type": "job"}] * 3})
        response = await asyncio.wait_for(pending, PROMPT)
        assert len(response.json()["tasks"]) >= 1

    run(db_url, clock, scenario)


def test_claim_returns_null_when_nothing_comes(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        assert await claim(client, 0.5) is None

    run(db_url, clock, scenario)


def test_waiter_for_one_type_is_not_handed_another(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        pending = asyncio.create_task(claim(client, 1.0, task_types=["type.a"]))
        await asyncio.sleep(0.3)
        other = await create(client, "type.b")
        assert await pending is None
        stored = (await client.get(f"/api/tasks/{other['id']}")).json()
        assert stored["status"] == "pending"

    run(db_url, clock, scenario)


def test_waiter_for_a_type_wakes_for_that_type(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        pending = await waiting(client, task_types=["type.a"])
        await create(client, "type.b")
        wanted = await create(client, "type.a")
        claimed = await asyncio.wait_for(pending, PROMPT)
        assert claimed["id"] == wanted["id"]

    run(db_url, clock, scenario)


def test_every_waiter_gets_one_of_a_burst(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        waiters = [await waiting(client, worker_id=f"w{i}") for i in range(3)]
        await client.post("/api/tasks/batch", json={"tasks": [{"type": "job"}] * 3})
        got = await asyncio.wait_for(asyncio.gather(*waiters), PROMPT)
        assert len({task["id"] for task in got}) == 3

    run(db_url, clock, scenario)


def test_waiter_gets_a_task_sent_back_by_a_failure(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        task = await create(client)
        held = await claim(client, 0, worker_id="first")
        pending = await waiting(client)
        body = {"error": "again", "lease_token": held["lease_token"], "retry_delay_seconds": 0}
        await client.post(f"/api/tasks/{task['id']}/fail", json=body)
        claimed = await asyncio.wait_for(pending, PROMPT)
        assert (claimed["id"], claimed["attempts"]) == (task["id"], 2)

    run(db_url, clock, scenario)


def test_waiter_gets_a_delayed_task_when_it_comes_due(db_url: str, clock: ManualClock) -> None:
    async def scenario(client: Client) -> None:
        task = await create(client, delay_seconds=0.2)
        pending = await waiting(client)
        clock.advance(1)
        claimed = await asyncio.wait_for(pending, PROMPT)
        assert claimed["id"] == task["id"]

    run(db_url, clock, scenario)


class LoopWatchingClock(ManualClock):
    """A manual clock that counts the reads made on a running event loop."""

    def __init__(self) -> None:
        super().__init__()
        self.on_loop = 0

    def now(self) -> Any:
        try:
            asyncio.get_running_loop()
            self.on_loop += 1
        except RuntimeError:
            pass
        return super().now()


def test_a_waiting_claim_reads_the_clock_off_the_event_loop(db_url: str) -> None:
    # The database clock may reconnect to measure itself: never where it blocks every request.
    # (Database servers are called from threads; SQLite's calls, on its host's clock, may run
    # on the loop.)
    clock = LoopWatchingClock()

    async def scenario(client: Client) -> None:
        created = await client.post("/api/tasks", json={"type": "later.job", "delay_seconds": 60})
        assert created.status_code == 201
        body = {"worker_id": "w1", "wait_seconds": 0.2}
        claimed = await client.post("/api/tasks/claim", json=body)
        assert claimed.status_code == 200 and claimed.json() is None

    run(db_url, clock, scenario, store_calls="threads")
    assert clock.on_loop == 0


def test_a_waiting_worker_hears_of_its_task_before_the_creator_hears_back(
    db_url: str, clock: ManualClock
) -> None:
    # Served on the event loop, a create that wakes a claim answers once that claim has
    # answered its worker.
    settings = Settings(database_url=db_url, migrate_on_start=False, store_calls="event-loop")
    app = create_app(settings, clock=clock)
    answers: list[str] = []

    async def noting_answers(scope: Any, receive: Any, send: Any) -> None:
        async def note(message: Any) -> None:
            if message["type"] == "http.response.body":
                answers.append(scope["path"])
            await send(message)

        await app(scope, receive, note)

    async def main() -> None:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=noting_answers)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                pending = await waiting(client)
                task = await create(client)
                assert (await asyncio.wait_for(pending, PROMPT))["id"] == task["id"]

    asyncio.run(main())
    assert answers == ["/api/tasks/claim", "/api/tasks"]
