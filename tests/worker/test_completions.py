"""Completions that finish together share one request; each task still gets its own outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from taskmanager.errors import LeaseLost, ValidationFailed
from taskmanager.worker.completions import Completions


class Api:
    """Records what was sent; `refuse` makes the batch call fail validation."""

    def __init__(self, refuse: bool = False, lost: frozenset[str] = frozenset()) -> None:
        self.singles: list[str] = []
        self.batches: list[list[str]] = []
        self.refuse = refuse
        self.lost = lost

    async def single(self, task: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        self.singles.append(task["id"])
        return {"id": task["id"], "status": "completed", "result": result}

    async def many(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.batches.append([item["id"] for item in items])
        if self.refuse:
            raise ValidationFailed("tasks.1.result: too deep")
        return [self._outcome(item) for item in items]

    def _outcome(self, item: dict[str, Any]) -> dict[str, Any]:
        if item["id"] in self.lost:
            error = {"error": "lease_lost", "message": "not yours", "details": {"id": item["id"]}}
            return {"id": item["id"], "outcome": "lease_lost", "error": error}
        task = {"id": item["id"], "status": "completed", "result": item["result"]}
        return {"id": item["id"], "outcome": "completed", "task": task}


def task(number: int) -> dict[str, Any]:
    return {"id": f"t{number}", "lease_token": f"token{number}"}


async def complete_together(api: Api, count: int) -> list[Any]:
    completions = Completions(api.single, api.many)
    calls = [completions.complete(task(n), {"n": n}) for n in range(count)]
    return await asyncio.gather(*calls, return_exceptions=True)


def test_a_lone_completion_is_the_plain_call() -> None:
    api = Api()
    (answer,) = asyncio.run(complete_together(api, 1))
    assert answer["result"] == {"n": 0}
    assert (api.singles, api.batches) == (["t0"], [])


def test_completions_that_finish_together_go_in_one_request() -> None:
    api = Api()
    answers = asyncio.run(complete_together(api, 5))
    assert [answer["result"] for answer in answers] == [{"n": n} for n in range(5)]
    assert api.batches == [["t0", "t1", "t2", "t3", "t4"]]
    assert api.singles == []


def test_each_task_learns_its_own_outcome() -> None:
    api = Api(lost=frozenset({"t1"}))
    answers = asyncio.run(complete_together(api, 3))
    assert isinstance(answers[1], LeaseLost)
    assert answers[1].details == {"id": "t1"}
    assert answers[0]["status"] == answers[2]["status"] == "completed"


def test_a_refused_batch_is_sent_again_one_by_one() -> None:
    api = Api(refuse=True)
    answers = asyncio.run(complete_together(api, 3))
    assert [answer["result"] for answer in answers] == [{"n": n} for n in range(3)]
    assert api.singles == ["t0", "t1", "t2"]


def test_completions_arriving_during_a_request_go_in_the_next_one() -> None:
    api = Api()

    async def scenario() -> None:
        completions = Completions(api.single, api.many)
        first = asyncio.ensure_future(completions.complete(task(0), {}))
        await asyncio.sleep(0)  # the first request is on its way
        later = [completions.complete(task(n), {}) for n in (1, 2)]
        await asyncio.gather(first, *later)

    asyncio.run(scenario())
    assert (api.singles, api.batches) == (["t0"], [["t1", "t2"]])


@pytest.mark.parametrize("count", [150])
def test_large_groups_are_split(count: int) -> None:
    api = Api()
    asyncio.run(complete_together(api, count))
    assert [len(batch) for batch in api.batches] == [100, 50]
