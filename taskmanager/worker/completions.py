"""Completions in groups: one request for the results that finish while another is in flight.

The first completion leaves at once; those that arrive while a request is on its way go
together in the next one (up to `MAX_GROUP`). Nothing waits longer than one request, a lone
completion is the plain `complete` call, and each task still learns its own outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from taskmanager.errors import PayloadTooLarge, TaskManagerError, ValidationFailed, error_for_code

MAX_GROUP = 100

Single = Callable[[dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]
Many = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
_Pending = tuple[dict[str, Any], dict[str, Any], "asyncio.Future[dict[str, Any]]"]


def outcome_error(item: dict[str, Any]) -> TaskManagerError:
    """The error of a batch item that was not completed, as the class its code names."""
    error = item.get("error") or {}
    kind = error_for_code(str(error.get("error") or item.get("outcome")))
    return kind(str(error.get("message") or item.get("outcome")), error.get("details") or {})


class Completions:
    """Groups `complete` calls; `single` sends one, `many` sends `{id, lease_token, result}`s."""

    def __init__(self, single: Single, many: Many) -> None:
        self._single = single
        self._many = many
        self._pending: list[_Pending] = []
        self._sending: asyncio.Task[None] | None = None

    async def complete(self, task: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Report `task` done; the answer (or error) is this task's own: the task as the API
        answered it, or `{}` from a batch, whose answer leaves the tasks out."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending.append((task, result, future))
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_all(), name="completions")
        return await asyncio.shield(future)

    async def _send_all(self) -> None:
        while self._pending:
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                await self._send(group)
            except BaseException as exc:  # the callers decide; the next group still goes
                _settle_all(group, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise

    async def _send(self, group: list[_Pending]) -> None:
        if len(group) > 1:
            items = [
                {"id": task["id"], "lease_token": task["lease_token"], "result": result}
                for task, result, _ in group
            ]
            try:
                answers = await self._many(items)
            except (ValidationFailed, PayloadTooLarge):
                pass  # one result the API refuses must not sink the others: send each alone
            else:
                _settle_items(group, answers)
                return
        for task, result, future in group:
            try:
                answer = await self._single(task, result)
            except Exception as exc:
                _settle(future, exc, None)
            else:
                _settle(future, None, answer)


def _settle_items(group: list[_Pending], answers: list[dict[str, Any]]) -> None:
    by_id = {str(item.get("id")): item for item in answers}
    for task, _result, future in group:
        item = by_id.get(str(task["id"]))
        if item is None:
            _settle(future, TaskManagerError("the API did not answer for this task"), None)
        elif item.get("outcome") == "completed":
            _settle(future, None, dict(item.get("task") or {}))
        else:
            _settle(future, outcome_error(item), None)


def _settle_all(group: list[_Pending], exc: BaseException) -> None:
    for _task, _result, future in group:
        _settle(future, exc, None)


def _settle(
    future: asyncio.Future[dict[str, Any]], error: BaseException | None, value: Any
) -> None:
    if future.done():
        return
    if isinstance(error, asyncio.CancelledError):
        future.cancel()
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
