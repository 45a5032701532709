"""Single creates that arrive together share one transaction.

Where store calls run on the event loop (SQLite served by one process), a create of one task
costs the server a whole transaction: its BEGIN, the task type's lookup, the count's upsert and
the commit, which writes each page the task touched to the WAL. Producers that create one task
per request from several connections keep the loop busy, so their requests arrive in bunches:
those that reach the store in one turn of the loop are written by one `create_tasks` call, then
each is answered with its own task, after the commit as always.

A create with an idempotency key goes alone (a replay within a group would be taken for a new
task), and so does every create of a group whose transaction fails: each then gets its own
answer, errors included, as if it had come alone.
"""

from __future__ import annotations

import asyncio

from taskmanager.models import TaskCreate
from taskmanager.storage import Created, Store


class CreateGroups:
    """Gathers the single creates of one turn of the event loop into one store call."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[TaskCreate, asyncio.Future[Created]]] = []

    async def create(self, item: TaskCreate) -> Created:
        """Create one task, in the transaction of whatever other creates are waiting now."""
        if item.idempotency_key is not None:
            (created,) = self._store.create_tasks([item])
            return created
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Created] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((item, future))
        return await future

    def _flush(self) -> None:
        group, self._pending = self._pending, []
        group = [(item, future) for item, future in group if not future.cancelled()]
        if len(group) > 1:
            try:
                created = self._store.create_tasks([item for item, _ in group])
            except Exception:  # each alone, to give each its own answer
                pass
            else:
                for (_, future), outcome in zip(group, created, strict=True):
                    future.set_result(outcome)
                return
        for item, future in group:
            try:
                (outcome,) = self._store.create_tasks([item])
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(outcome)
