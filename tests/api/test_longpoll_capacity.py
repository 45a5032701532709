"""Hundreds of idle long polls cost the server no database connection and no thread."""

from __future__ import annotations

import asyncio
import threading

from fastapi import FastAPI

from taskmanager.clock import ManualClock
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from taskmanager.storage import SQLStore
from tests.api.test_longpoll import Client, running

WAITERS = 300


def test_hundreds_of_waiting_claims_hold_no_connection(db_url: str, clock: ManualClock) -> None:
    settings = Settings(database_url=db_url, migrate_on_start=False, long_poll_recheck_seconds=30)
    app = create_app(settings, clock=clock)
    store = app.state.store
    assert isinstance(store, SQLStore)

    async def scenario(client: Client) -> None:
        threads_before = threading.active_count()
        polls = [
            asyncio.create_task(
                client.post("/api/tasks/claim", json={"worker_id": f"idle-{i}", "wait_seconds": 30})
            )
            for i in range(WAITERS)
        ]
        await _until(lambda: app.state.waiters.waiting == WAITERS)
        # Every claim is parked on the event loop: not a thread each...
        assert threading.active_count() - threads_before < WAITERS // 3
        # ... and none holds a pooled connection (the process's one watcher of new tasks may
        # be using one at this very moment; SQLite's kept write connection is not the pool's).
        assert store.engine.pool.checkedout() <= 1  # type: ignore[attr-defined]
        # ... and work still flows: a batch of tasks reaches exactly that many waiters.
        created = await client.post("/api/tasks/batch", json={"tasks": [{"type": "job"}] * 50})
        assert created.status_code == 201
        await _until(lambda: sum(poll.done() for poll in polls) == 50)
        claimed = [poll.result().json() for poll in polls if poll.done()]
        assert len({task["id"] for task in claimed}) == 50
        for poll in polls:
            poll.cancel()
        await asyncio.gather(*polls, return_exceptions=True)

    async def main(app: FastAPI) -> None:
        async with running(app) as client:
            await scenario(client)

    asyncio.run(main(app))


async def _until(condition: object, timeout: float = 30.0) -> None:
    assert callable(condition)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)
