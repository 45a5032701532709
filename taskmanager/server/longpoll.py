"""Long polls: idle claims wait here, on the event loop, holding no thread and no connection.

Whatever may have made a task claimable calls `notify`; a waiting claim wakes and tries the
database again. Wake-ups are targeted: one waiter per new task of its types, and a waiter that
got all the tasks it asked for passes the baton to the next, so that a burst of tasks is not met
by a thundering herd.
A timer wakes one waiter when the earliest delayed task or lease of some types comes due, and
every waiter re-reads the database at least every `recheck_seconds` whatever happens, so that no
wake-up can be lost for good (tasks created by another server process included).

A wake-up given on the event loop's own thread (the store runs there) can be followed: the
creating request waits until the claims it woke have answered their workers (`handed_over`)
before it answers, so that a task's worker hears of it first, not after the creator.

Where the store runs on the loop, a waiting claim can go further and leave an `Offer`: a create
then leases it tasks in the create's own transaction (`takers`, `hand`), and the claim answers
with them without a transaction of its own. Only claims whose worker is still connected are
taken, checked just before that transaction.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from taskmanager.models import ClaimedTask, Task
from taskmanager.status import TaskStatus
from taskmanager.storage import ClaimArgs

Types = frozenset[str] | None  # None: every type
# How long a request that woke claims waits for them to answer, at most.
HAND_OVER_SECONDS = 0.1


def _types(names: Iterable[str] | None) -> Types:
    return frozenset(names) if names else None


def _overlap(a: Types, b: Types) -> bool:
    return a is None or b is None or not a.isdisjoint(b)


@dataclass(eq=False)
class Offer:
    """A waiting claim's standing offer to take tasks leased in a create's transaction."""

    claim: ClaimArgs
    # True once the claim's worker has hung up.
    hung_up: Callable[[], bool]
    # What a create leased to the claim; set when it wakes the claim.
    handed: list[ClaimedTask] = field(default_factory=list)


@dataclass(eq=False)
class Waiter:
    types: Types
    offer: Offer | None = None
    event: asyncio.Event = field(default_factory=asyncio.Event)
    # Resolved once the woken claim has answered its worker, found nothing, or left.
    released: asyncio.Future[None] | None = None

    def wake(self) -> asyncio.Future[None]:
        """Set the waiter going; the future resolves when it releases its waker."""
        self.event.set()
        self.released = asyncio.get_running_loop().create_future()
        return self.released


class Waiters:
    """The claims waiting for work in this server process."""

    def __init__(self, recheck_seconds: float) -> None:
        self.recheck_seconds = recheck_seconds
        self.generation = 0
        self._waiting: list[Waiter] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timers: dict[Types, tuple[float, asyncio.TimerHandle]] = {}
        self._woken: weakref.WeakKeyDictionary[asyncio.Task[Any], asyncio.Future[None]] = (
            weakref.WeakKeyDictionary()
        )

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the event loop that serves requests."""
        self._loop = loop

    @property
    def waiting(self) -> int:
        """How many claims are waiting now."""
        return len(self._waiting)

    def notify(self, task_type: str | None, count: int = 1, delay_seconds: float = 0.0) -> None:
        """Say that `count` tasks of `task_type` (None: of any type) become claimable in
        `delay_seconds`. Safe to call from any thread.
        """
        loop = self._loop
        if delay_seconds <= 0:
            self.wake(task_type, count)
        elif loop is not None and not loop.is_closed():
            types = None if task_type is None else frozenset((task_type,))
            loop.call_soon_threadsafe(self.wake_at, delay_seconds, types)

    def wake(self, task_type: str | None, count: int) -> list[asyncio.Future[None]]:
        """Wake up to `count` claims for `task_type` (None: any type). On the event loop's
        thread at once, returning what `handed_over` waits for: one future per claim woken;
        from another thread, soon (and returns nothing to wait for)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return []
        types = None if task_type is None else frozenset((task_type,))
        if _running_loop() is loop:
            return self._wake(types, count)
        loop.call_soon_threadsafe(self._wake, types, count)
        return []

    async def handed_over(self, woken: Sequence[asyncio.Future[None]]) -> None:
        """Until the claims `woken` are released (at most HAND_OVER_SECONDS)."""
        if woken:
            await asyncio.wait(woken, timeout=HAND_OVER_SECONDS)

    def release(self) -> None:
        """The calling claim is done with its wake-up: whoever woke it may answer now."""
        task = asyncio.current_task()
        released = self._woken.pop(task, None) if task is not None else None
        if released is not None and not released.done():
            released.set_result(None)

    async def answered(self) -> None:
        """`release`, run once the claim's answer is sent (as the answer's background)."""
        self.release()

    def pass_baton(self, task_type: str) -> None:
        """A woken claim got all it asked for: there may be more, so wake one more waiter for
        the type."""
        self._wake(frozenset((task_type,)), 1)

    def wake_at(self, delay_seconds: float, types: Types) -> None:
        """Wake one waiter for `types` after `delay_seconds`; only the earliest timer is kept."""
        loop = self._loop
        if loop is None:
            return
        when = loop.time() + max(0.0, delay_seconds)
        current = self._timers.get(types)
        if current is not None:
            if current[0] <= when:
                return
            current[1].cancel()
        self._timers[types] = (when, loop.call_at(when, self._on_timer, types))

    def _on_timer(self, types: Types) -> None:
        self._timers.pop(types, None)
        self._wake(types, 1)

    def _wake(self, types: Types, count: int) -> list[asyncio.Future[None]]:
        self.generation += 1
        woken: list[asyncio.Future[None]] = []
        for waiter in self._waiting:
            if count <= 0:
                break
            if not waiter.event.is_set() and _overlap(waiter.types, types):
                woken.append(waiter.wake())
                count -= 1
        return woken

    def takers(self, due: Mapping[str, int]) -> list[tuple[Waiter, Offer]]:
        """Waiting claims with an offer that could take the `due` new tasks (how many of each
        type), in the order they came, while their workers are connected: enough of them for
        every task, if there are."""
        chosen: dict[Waiter, Offer] = {}  # in the order chosen
        for task_type, count in due.items():
            types = frozenset((task_type,))
            for waiter in self._waiting:
                if count <= 0:
                    break
                offer = waiter.offer
                if (
                    offer is None
                    or waiter.event.is_set()
                    or waiter in chosen
                    or not _overlap(waiter.types, types)
                    or offer.hung_up()
                ):
                    continue
                chosen[waiter] = offer
                count -= offer.claim.limit
        return list(chosen.items())

    def hand(
        self, takers: Sequence[tuple[Waiter, Offer]], leased: Sequence[list[ClaimedTask]]
    ) -> dict[str, asyncio.Future[None]]:
        """Wake each taker that was leased tasks, with them; for each task handed, what
        `handed_over` waits for. A taker leased nothing goes on waiting."""
        released: dict[str, asyncio.Future[None]] = {}
        for (waiter, offer), tasks in zip(takers, leased, strict=True):
            if tasks:
                self.generation += 1
                offer.handed = tasks
                future = waiter.wake()
                released.update((task.id, future) for task in tasks)
        return released

    async def wait(
        self,
        task_types: Sequence[str] | None,
        timeout: float,
        since: int,
        offer: Offer | None = None,
    ) -> bool:
        """Wait for a matching wake-up; False when `timeout` passed without one. With an
        `offer`, a create may lease tasks to the caller meanwhile: see `offer.handed`.

        `since` is the generation read before the caller last looked at the database: if a
        wake-up came in between, return at once rather than sleep through it.
        """
        if self.generation != since:
            return True
        waiter = Waiter(_types(task_types), offer)
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await waiter.event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._waiting.remove(waiter)
            self._follow(waiter)

    def _follow(self, waiter: Waiter) -> None:
        """After a wait: the woken claim goes on to claim (and `release`s its waker), or hands
        its wake-up to another waiter if its client left."""
        if waiter.released is None:
            return
        task = asyncio.current_task()
        if _cancelled() or task is None:
            waiter.released.set_result(None)
            self._wake(waiter.types, 1)
        else:
            self._woken[task] = waiter.released


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def announce(waiters: Waiters, tasks: Sequence[Task], now: datetime) -> list[asyncio.Future[None]]:
    """Tell waiting claims about tasks that are (or will become) pending; returns what
    `Waiters.handed_over` waits for."""
    due: Counter[str] = Counter()
    later: dict[str, float] = {}
    for task in tasks:
        if task.status != TaskStatus.PENDING:
            continue
        delay = (task.run_at - now).total_seconds()
        if delay <= 0:
            due[task.type] += 1
        else:
            later[task.type] = min(delay, later.get(task.type, delay))
    woken = [wake for task_type, count in due.items() for wake in waiters.wake(task_type, count)]
    for task_type, delay in later.items():
        waiters.notify(task_type, 1, delay)
    return woken
