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

Claims waiting for the new tasks, with an offer to take them (`longpoll.Offer`), are served in
the same transaction: the store leases them their tasks right after creating them, and they
answer their workers with no transaction of their own.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from taskmanager.models import TaskCreate
from taskmanager.server.longpoll import Waiters, announce
from taskmanager.storage import Created, Store

# A create's outcome, and the wake-ups of the claims its task woke (`Waiters.handed_over`).
Announced = tuple[Created, list[asyncio.Future[None]]]


class CreateGroups:
    """Gathers the single creates of one turn of the event loop into one store call."""

    def __init__(self, store: Store, waiters: Waiters) -> None:
        self._store = store
        self._waiters = waiters
        self._pending: list[tuple[TaskCreate, asyncio.Future[Announced]]] = []

    async def create(self, item: TaskCreate) -> Announced:
        """Create one task, in the transaction of whatever other creates are waiting now, and
        wake the claims waiting for it."""
        if item.idempotency_key is not None:
            now = self._store.clock.now()
            return self._announced(self._store.create_tasks([item]), now, {})[0]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Announced] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((item, future))
        return await future

    def _write(self, items: Sequence[TaskCreate]) -> list[Announced]:
        """Create `items` in one transaction, leasing them to the claims that would take them.

        Each outcome comes with its wake-ups, given in the same callback as the commit: a
        watch thread that saw the new task first must not take the wake-up (and so the
        creator's wait for the woken claim's answer) from the create."""
        now = self._store.clock.now()
        takers = self._waiters.takers(_due(items, now))
        if not takers:
            return self._announced(self._store.create_tasks(items), now, {})
        made, leased = self._store.create_and_claim(items, [offer.claim for _, offer in takers])
        return self._announced(made, now, self._waiters.hand(takers, leased))

    def _announced(
        self, outcomes: list[Created], now: datetime, handed: dict[str, asyncio.Future[None]]
    ) -> list[Announced]:
        """Each outcome with what its creator waits for: the claim its task was handed to, or
        the claims woken for it."""
        return [
            (o, [handed[o.task.id]] if o.task.id in handed else self._woken(o, now))
            for o in outcomes
        ]

    def _woken(self, outcome: Created, now: datetime) -> list[asyncio.Future[None]]:
        return announce(self._waiters, [outcome.task] if outcome.created else [], now)

    def _flush(self) -> None:
        group, self._pending = self._pending, []
        group = [(item, future) for item, future in group if not future.cancelled()]
        if len(group) > 1:
            try:
                made = self._write([item for item, _ in group])
            except Exception:  # each alone, to give each its own answer
                pass
            else:
                for (_, future), announced in zip(group, made, strict=True):
                    future.set_result(announced)
                return
        for item, future in group:
            try:
                (announced,) = self._write([item])
            except Exception as exc:
                future.set_exception(exc)
            else:
                future.set_result(announced)


def _due(items: Sequence[TaskCreate], now: datetime) -> Counter[str]:
    """How many of `items` of each type are claimable as soon as they are made."""
    return Counter(
        item.type
        for item in items
        if not item.delay_seconds and (item.run_at is None or item.run_at <= now)
    )
