"""The real worker loop against the real app, in process: outcomes, heartbeats, concurrency."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest

from taskmanager.client import AsyncClient
from taskmanager.worker import PermanentError, Retry, TaskContext, Worker
from taskmanager.worker import worker as worker_module
from taskmanager.worker.loop import Runner
from tests.worker.conftest import InProcess, config, wait_until


async def create(client: AsyncClient, *tasks: tuple[str, dict[str, Any]]) -> list[str]:
    created = await client.create_tasks([{"type": t, "params": p} for t, p in tasks])
    return [task["id"] for task in created]


async def until(condition: Any, timeout: float = 15.0) -> Any:
    """Await `condition()` until truthy, bounded in time."""
    async with asyncio.timeout(timeout):
        while not (value := await condition()):
            await asyncio.sleep(0.05)
        return value


def test_runs_the_examples_and_stops_after_max_runs(inprocess: InProcess) -> None:
    ids: list[str] = []

    async def scenario(client: AsyncClient) -> None:
        ids.extend(
            await create(
                client,
                ("example.echo", {"message": "hi"}),
                ("example.uppercase", {"text": "shout"}),
                ("example.math.add", {"a": 2, "b": 3}),
                ("example.sleep", {"seconds": 0.2}),
                ("example.echo", {"message": "not this one"}),
            )
        )

    async def main() -> list[dict[str, Any]]:
        status = await inprocess.run(Worker(), config(max_runs=4), scenario)
        assert status == 0
        async with inprocess.app.router.lifespan_context(inprocess.app), inprocess.client() as c:
            return [await c.get_task(task_id) for task_id in ids]

    tasks = asyncio.run(main())
    assert [t["status"] for t in tasks] == ["completed"] * 4 + ["pending"]
    assert [t["result"] for t in tasks[:4]] == [
        {"echo": "hi"},
        {"text": "SHOUT"},
        {"sum": 5},
        {"slept_seconds": 0.2},
    ]
    assert all(t["worker_id"] == "test-worker" for t in tasks[:4])


def test_retry_permanent_error_and_unexpected_exception(inprocess: InProcess) -> None:
    worker = Worker(examples=False)

    @worker.handler("t.retry")
    def later(params: dict[str, Any]) -> None:
        raise Retry("not yet", delay_seconds=120)

    @worker.handler("t.retry_in")
    def in_five_minutes(params: dict[str, Any]) -> None:
        raise Retry(300)  # a number alone is the delay

    @worker.handler("t.permanent")
    def never(params: dict[str, Any]) -> None:
        raise PermanentError("bad params")

    @worker.handler("t.crash")
    async def crash(params: dict[str, Any]) -> None:
        raise ZeroDivisionError("oops")

    @worker.handler("t.envelope")
    def envelope(params: dict[str, Any]) -> dict[str, Any]:
        return {"success": False, "message": "service down"}

    ids: list[str] = []
    found: list[dict[str, Any]] = []

    async def scenario(client: AsyncClient) -> None:
        ids.extend(
            await create(
                client,
                ("t.retry", {}),
                ("t.permanent", {}),
                ("t.crash", {}),
                ("t.envelope", {}),
                ("t.retry_in", {}),
            )
        )

    async def main() -> None:
        assert await inprocess.run(worker, config(max_runs=5, concurrency=2), scenario) == 0
        async with inprocess.app.router.lifespan_context(inprocess.app), inprocess.client() as c:
            found.extend([await c.get_task(task_id) for task_id in ids])

    asyncio.run(main())
    retry, permanent, crash_task, env, retry_in = found
    assert retry["status"] == "pending" and retry["error"] == "not yet"
    assert retry["attempts"] == 1 and retry["run_at"] > retry["created_at"]
    assert permanent["status"] == "failed" and permanent["error"] == "bad params"
    assert permanent["attempts"] == 1
    assert crash_task["status"] == "pending" and crash_task["error"] == "ZeroDivisionError: oops"
    assert env["status"] == "pending" and env["error"] == "service down"
    assert (retry_in["status"], retry_in["error"]) == ("pending", "retry requested")
    delay = datetime.fromisoformat(retry_in["run_at"]) - datetime.fromisoformat(
        retry_in["created_at"]
    )
    assert 290 < delay.total_seconds() < 320


def test_an_error_with_a_nul_and_no_end_is_reported_all_the_same(inprocess: InProcess) -> None:
    worker = Worker(examples=False)

    @worker.handler("t.binary")
    def binary(params: dict[str, Any]) -> None:
        raise PermanentError("bad\x00byte " + "x" * 70_000)

    ids: list[str] = []

    async def scenario(client: AsyncClient) -> None:
        ids.extend(await create(client, ("t.binary", {})))

    async def main() -> dict[str, Any]:
        assert await inprocess.run(worker, config(max_runs=1), scenario) == 0
        async with inprocess.app.router.lifespan_context(inprocess.app), inprocess.client() as c:
            return await c.get_task(ids[0])

    task = asyncio.run(main())
    assert task["status"] == "failed"
    assert task["error"].startswith("bad\ufffdbyte xxx")
    assert len(task["error"]) == 65536


def test_concurrency_claims_in_batches(inprocess: InProcess) -> None:
    worker = Worker(examples=False)
    running: list[int] = [0, 0]  # now, most at once

    @worker.handler("t.slow")
    async def slow(params: dict[str, Any]) -> dict[str, Any]:
        running[0] += 1
        running[1] = max(running[1], running[0])
        await asyncio.sleep(0.3)
        running[0] -= 1
        return {"n": params["n"]}

    async def scenario(client: AsyncClient) -> None:
        await create(client, *[("t.slow", {"n": n}) for n in range(8)])

    status = asyncio.run(inprocess.run(worker, config(max_runs=8, concurrency=4), scenario))
    assert status == 0
    assert running[1] == 4
    assert inprocess.transport is not None
    assert "/api/tasks/claim/batch" in inprocess.transport.paths


def test_cancellation_is_noticed_on_heartbeat(inprocess: InProcess) -> None:
    worker = Worker(examples=False)
    events: list[str] = []

    @worker.handler("t.async")
    async def waits(params: dict[str, Any]) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("async handler cancelled")
            raise

    @worker.handler("t.sync")
    def loops(params: dict[str, Any], ctx: TaskContext) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                ctx.progress(10, "working")
            except Exception as exc:
                events.append(f"sync handler told: {type(exc).__name__}")
                raise
            time.sleep(0.05)

    async def scenario(client: AsyncClient) -> None:
        await client.put_task_type("t.async", lease_seconds=1.5)
        await client.put_task_type("t.sync", lease_seconds=1.5)
        ids = await create(client, ("t.async", {}), ("t.sync", {}))

        async def both_processing() -> bool:
            return all([(await client.get_task(i))["status"] == "processing" for i in ids])

        await until(both_processing)
        for task_id in ids:
            await client.cancel_task(task_id)

    status = asyncio.run(inprocess.run(worker, config(max_runs=2, concurrency=2), scenario))
    assert status == 0
    wait_until(lambda: len(events) == 2, what="both handlers to stop")  # the thread may lag
    assert sorted(events) == ["async handler cancelled", "sync handler told: TaskCancelled"]


def test_a_second_stop_hands_the_task_back_and_stops_its_handler(
    inprocess: InProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    runners: list[Runner] = []

    class Recorded(Runner):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            runners.append(self)

    monkeypatch.setattr(worker_module, "Runner", Recorded)
    worker = Worker(examples=False)
    events: list[str] = []

    @worker.handler("t.forever")
    async def forever(params: dict[str, Any]) -> None:
        events.append("started")
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    back: dict[str, Any] = {}

    async def scenario(client: AsyncClient) -> None:
        [task_id] = await create(client, ("t.forever", {}))
        await until(lambda: _true(events == ["started"]))
        runners[0].request_stop()
        runners[0].request_stop()  # the second: hand back what is in hand, now
        await until(lambda: _status(client, task_id, "pending"))
        back.update(await client.get_task(task_id))

    status = asyncio.run(inprocess.run(worker, config(worker_id="hasty"), scenario))
    assert status == 1
    assert events == ["started", "cancelled"]
    assert back["error"].startswith("handed back by worker hasty")


async def _true(value: bool) -> bool:
    return value


# Heartbeats come every third of the lease: 3 s leaves a stall of 2 s before a beat is late.
LEASE_SECONDS = 3.0


@pytest.mark.slow
def test_heartbeats_keep_a_task_of_ten_leases(inprocess: InProcess) -> None:
    worker = Worker(examples=False)

    @worker.handler("t.long")
    async def long(params: dict[str, Any], ctx: TaskContext) -> dict[str, Any]:
        await asyncio.sleep(5 * LEASE_SECONDS)
        ctx.progress(50, "half way")
        await asyncio.sleep(5 * LEASE_SECONDS)
        return {"done": True}

    found: dict[str, Any] = {"tries": 0}

    async def scenario(client: AsyncClient) -> None:
        await client.put_task_type("t.long", lease_seconds=LEASE_SECONDS)
        [task_id] = await create(client, ("t.long", {}))

        async def done() -> dict[str, Any] | None:
            task = await client.get_task(task_id)
            if task["progress"] == 50:
                found["half"] = task
            return task if task["status"] == "completed" else None

        # Once the worker holds the task, another one looking for work all along must never
        # get it while the handler runs.
        await until(lambda: _held_by(client, task_id, "test-worker"))
        async with asyncio.timeout(30 * LEASE_SECONDS):
            while not (finished := await done()):
                stolen = await client.claim("thief", task_types=["t.long"])
                assert stolen is None, "another worker got the task while its handler ran"
                found["tries"] += 1
                await asyncio.sleep(LEASE_SECONDS / 4)
        found["done"] = finished

    started = time.monotonic()
    assert asyncio.run(inprocess.run(worker, config(max_runs=1), scenario)) == 0
    assert time.monotonic() - started >= 10 * LEASE_SECONDS
    assert found["tries"] > 30
    assert found["half"]["progress_message"] == "half way"
    assert found["done"]["attempts"] == 1 and found["done"]["result"] == {"done": True}
    assert found["done"]["worker_id"] == "test-worker"


def test_survives_an_api_outage(inprocess: InProcess, fast_backoff: None) -> None:
    ids: list[str] = []

    async def scenario(client: AsyncClient) -> None:
        assert inprocess.transport is not None
        ids.extend(await create(client, ("example.echo", {"message": "before"})))
        await until(lambda: _status(client, ids[0], "completed"))
        inprocess.transport.down = True
        await asyncio.sleep(0.05)  # a few failed calls, fewer than the limit (50)
        inprocess.transport.down = False
        ids.extend(await create(client, ("example.echo", {"message": "after"})))

    cfg = config(max_runs=2, max_consecutive_errors=50)
    assert asyncio.run(inprocess.run(Worker(), cfg, scenario)) == 0


def test_gives_up_after_too_many_consecutive_errors(
    inprocess: InProcess, fast_backoff: None
) -> None:
    async def scenario(client: AsyncClient) -> None:
        assert inprocess.transport is not None
        await until(lambda: _claimed_once(inprocess))
        inprocess.transport.down = True

    status = asyncio.run(inprocess.run(Worker(), config(max_consecutive_errors=3), scenario))
    assert status == 1
    assert inprocess.transport is not None
    failed_calls = (
        len(inprocess.transport.paths) - inprocess.transport.paths.index("/api/tasks/claim") - 1
    )
    assert 3 <= failed_calls <= 4


async def _status(client: AsyncClient, task_id: str, status: str) -> bool:
    return bool((await client.get_task(task_id))["status"] == status)


async def _claimed_once(inprocess: InProcess) -> bool:
    assert inprocess.transport is not None
    return "/api/tasks/claim" in inprocess.transport.paths


async def _held_by(client: AsyncClient, task_id: str, worker_id: str) -> bool:
    task = await client.get_task(task_id)
    return bool(task["status"] == "processing" and task["worker_id"] == worker_id)
