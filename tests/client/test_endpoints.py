"""Every method of `Client` and `AsyncClient` against the real server, and its error classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskmanager.errors import (
    Conflict,
    InvalidState,
    LeaseLost,
    TaskCancelled,
    TaskNotFound,
    ValidationFailed,
)
from tests.client.conftest import Api, Scenario

RunWith = Callable[[Scenario], None]
UNKNOWN = "00000000-0000-4000-8000-000000000000"
SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


async def producer_calls(api: Api) -> list[dict[str, Any]]:
    health = await api("health")
    assert health["status"] == "ok" and health["database"] == "ok"
    kind = await api("put_task_type", "c.job", params_schema=SCHEMA, max_attempts=2)
    assert kind["max_attempts"] == 2
    assert (await api("get_task_type", "c.job"))["params_schema"] == SCHEMA
    assert [t["type"] for t in await api("list_task_types")] == ["c.job"]
    first = await api("create_task", "c.job", {"n": 1}, priority=5)
    assert (first["status"], first["priority"], first["max_attempts"]) == ("pending", 5, 2)
    more = await api("create_tasks", [{"type": "c.job", "params": {"n": n}} for n in (2, 3, 4)])
    assert [t["params"]["n"] for t in more] == [2, 3, 4]
    page = await api("list_tasks", status="pending", type="c.job", limit=3)
    assert len(page["tasks"]) == 3 and page["next_cursor"]
    rest = await api("list_tasks", status="pending", cursor=page["next_cursor"])
    assert len(rest["tasks"]) == 1
    assert (await api("get_task", first["id"]))["params"] == {"n": 1}
    return [first, *more]


async def worker_calls(api: Api, created: list[dict[str, Any]]) -> None:
    task = await api("claim", "w1", task_types=["c.job"], lease_seconds=30)
    assert task["id"] == created[0]["id"] and task["lease_token"]  # highest priority first
    beat = await api("heartbeat", task["id"], "w1", task["lease_token"], progress=50, message="m")
    assert (beat["progress"], beat["progress_message"]) == (50, "m")
    fence = {"worker_id": "w1", "lease_token": task["lease_token"]}
    done = await api("complete", task["id"], {"ok": True}, **fence)
    assert (done["status"], done["result"]) == ("completed", {"ok": True})
    pair = await api("claim_batch", "w1", 2, task_types=["c.job"], wait_seconds=0)
    assert len(pair) == 2 and all(t["lease_token"] for t in pair)
    items = [{"id": pair[0]["id"], "lease_token": pair[0]["lease_token"], "result": {}}]
    [outcome] = await api("complete_batch", "w1", items)
    assert (outcome["outcome"], outcome["task"]["status"]) == ("completed", "completed")
    fence = {"worker_id": "w1", "lease_token": pair[1]["lease_token"]}
    failed = await api("fail", pair[1]["id"], "boom", retry=False, **fence)
    assert (failed["status"], failed["error"]) == ("failed", "boom")
    assert (await api("retry_task", pair[1]["id"]))["status"] == "pending"
    assert (await api("cancel_task", pair[1]["id"]))["status"] == "cancelled"
    assert "w1" in [w["worker_id"] for w in await api("list_workers")]
    assert (await api("worker_stats", "w1"))["tasks_completed"] == 2
    stats = await api("stats")
    assert isinstance(stats, dict) and stats


def test_every_endpoint_method(run_with: RunWith) -> None:
    async def scenario(api: Api) -> None:
        await worker_calls(api, await producer_calls(api))

    run_with(scenario)


async def raises(kind: type[Exception], api: Api, *args: Any, **kwargs: Any) -> Exception:
    with pytest.raises(kind) as caught:
        await api(*args, **kwargs)
    return caught.value


def test_error_answers_raise_their_classes(run_with: RunWith) -> None:
    async def scenario(api: Api) -> None:
        await api("put_task_type", "c.job", params_schema=SCHEMA)
        bad = await raises(ValidationFailed, api, "create_task", "c.job", {"n": "one"})
        assert bad.details  # type: ignore[attr-defined]
        await raises(TaskNotFound, api, "get_task", UNKNOWN)
        await raises(TaskNotFound, api, "worker_stats", "never-seen")
        await api("create_task", "c.job", {"n": 1}, idempotency_key="k")
        await raises(Conflict, api, "create_task", "c.job", {"n": 2}, idempotency_key="k")
        task = await api("claim", "w1", task_types=["c.job"])
        await raises(LeaseLost, api, "complete", task["id"], {}, lease_token="not-the-token")
        await api("cancel_task", task["id"])
        await raises(TaskCancelled, api, "heartbeat", task["id"], "w1", task["lease_token"])
        await raises(InvalidState, api, "cancel_task", task["id"])

    run_with(scenario)
