"""`Worker.run` runs its handlers on uvloop; `run_async` keeps the caller's loop."""

from __future__ import annotations

import asyncio
from typing import Any

from taskmanager.client import Client
from taskmanager.worker import Worker, WorkerConfig
from tests.conftest import LiveServer


def _loops_seen(run: Any, live_server: LiveServer) -> list[str]:
    seen: list[str] = []

    async def record(params: dict[str, Any]) -> dict[str, Any]:
        seen.append(type(asyncio.get_running_loop()).__module__)
        return params

    with Client(live_server.api_url) as client:
        task = client.create_task("loop.check", {"n": 1})
    worker = Worker({"loop.check": record}, examples=False)
    config = WorkerConfig(
        api_url=live_server.api_url, worker_id="loop-check", poll_interval=1, max_runs=1
    )
    assert run(worker, config) == 0
    with Client(live_server.api_url) as client:
        assert client.get_task(task["id"])["status"] == "completed"
    return seen


def test_run_puts_the_handlers_on_uvloop(live_server: LiveServer) -> None:
    seen = _loops_seen(lambda worker, config: worker.run(config), live_server)
    assert [module.split(".")[0] for module in seen] == ["uvloop"]


def test_run_async_keeps_the_loop_it_is_given(live_server: LiveServer) -> None:
    seen = _loops_seen(lambda worker, config: asyncio.run(worker.run_async(config)), live_server)
    assert [module.split(".")[0] for module in seen] == ["asyncio"]
