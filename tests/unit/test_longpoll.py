"""Waiters: targeted wake-ups, the due-time timer, and the generation check."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from taskmanager.models import ClaimedTask
from taskmanager.server.longpoll import Offer, Waiters
from taskmanager.storage import ClaimArgs

LONG = 30.0


def run(scenario: Callable[[Waiters], Awaitable[None]]) -> None:
    async def main() -> None:
        waiters = Waiters(recheck_seconds=LONG)
        waiters.bind(asyncio.get_running_loop())
        await scenario(waiters)

    asyncio.run(main())


async def start(waiters: Waiters, types: list[str] | None) -> asyncio.Task[bool]:
    task = asyncio.create_task(waiters.wait(types, LONG, waiters.generation))
    await asyncio.sleep(0)
    return task


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_notify_wakes_a_waiter_for_that_type() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        waiters.notify("mail")
        assert await asyncio.wait_for(waiter, 5) is True
        assert waiters.waiting == 0

    run(scenario)


def test_notify_does_not_wake_a_waiter_for_another_type() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        waiters.notify("sms")
        await settle()
        assert not waiter.done()
        waiter.cancel()

    run(scenario)


def test_a_waiter_for_every_type_wakes_for_any() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, None)
        waiters.notify("anything")
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def test_one_task_wakes_one_waiter_not_the_herd() -> None:
    async def scenario(waiters: Waiters) -> None:
        herd = [await start(waiters, ["mail"]) for _ in range(4)]
        waiters.notify("mail", count=1)
        await settle()
        assert sum(w.done() for w in herd) == 1
        waiters.notify("mail", count=2)
        await settle()
        assert sum(w.done() for w in herd) == 3
        waiters.pass_baton("mail")
        await settle()
        assert all(w.done() for w in herd)

    run(scenario)


def test_wait_times_out_with_false() -> None:
    async def scenario(waiters: Waiters) -> None:
        assert await waiters.wait(["mail"], 0.05, waiters.generation) is False
        assert waiters.waiting == 0

    run(scenario)


def test_a_wake_up_between_look_and_wait_is_not_lost() -> None:
    async def scenario(waiters: Waiters) -> None:
        since = waiters.generation
        waiters.notify("mail")  # arrives after the caller looked at the database
        await settle()
        assert await asyncio.wait_for(waiters.wait(["mail"], LONG, since), 5) is True

    run(scenario)


def test_wake_at_wakes_one_waiter_when_due() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        waiters.wake_at(0.05, frozenset({"mail"}))
        await settle()
        assert not waiter.done()
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def test_wake_at_keeps_the_earliest_timer() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        types = frozenset({"mail"})
        waiters.wake_at(0.05, types)
        waiters.wake_at(LONG, types)  # a later timer must not replace the earlier one
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def test_an_earlier_wake_at_replaces_a_later_one() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        types = frozenset({"mail"})
        waiters.wake_at(LONG, types)
        waiters.wake_at(0.05, types)
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def test_delayed_notify_wakes_later_not_now() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        waiters.notify("mail", delay_seconds=0.05)
        await settle()
        assert not waiter.done()
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def test_a_woken_waiter_that_leaves_hands_its_wake_up_on() -> None:
    async def scenario(waiters: Waiters) -> None:
        first = await start(waiters, ["mail"])
        second = await start(waiters, ["mail"])
        waiters.notify("mail")  # on the loop's thread: the first is woken at once
        first.cancel()  # and leaves before it runs again
        await settle()
        assert first.cancelled()
        assert await asyncio.wait_for(second, 5) is True

    run(scenario)


def test_notify_before_bind_is_harmless() -> None:
    Waiters(recheck_seconds=1).notify("mail")


def test_a_waker_waits_until_the_woken_claim_has_answered() -> None:
    async def scenario(waiters: Waiters) -> None:
        async def claim() -> None:
            await waiters.wait(["mail"], LONG, waiters.generation)
            answered.append("claim answered")
            await waiters.answered()

        answered: list[str] = []
        claiming = asyncio.create_task(claim())
        await asyncio.sleep(0)
        woken = waiters.wake("mail", 1)
        assert len(woken) == 1
        await asyncio.wait_for(waiters.handed_over(woken), 5)
        assert answered == ["claim answered"]
        await claiming

    run(scenario)


def test_a_woken_claim_that_leaves_does_not_hold_its_waker() -> None:
    async def scenario(waiters: Waiters) -> None:
        first = await start(waiters, ["mail"])
        woken = waiters.wake("mail", 1)
        first.cancel()
        await asyncio.wait_for(waiters.handed_over(woken), 5)
        assert all(wake.done() for wake in woken)

    run(scenario)


def test_a_wake_up_from_another_thread_gives_nothing_to_wait_for() -> None:
    async def scenario(waiters: Waiters) -> None:
        waiter = await start(waiters, ["mail"])
        assert await asyncio.to_thread(waiters.wake, "mail", 1) == []
        assert await asyncio.wait_for(waiter, 5) is True

    run(scenario)


def _offer(worker: str, limit: int, gone: list[bool] | None = None) -> Offer:
    hung_up = (lambda: gone[0]) if gone is not None else (lambda: False)
    return Offer(ClaimArgs(worker, None, None, limit), hung_up)


def _taken(waiters: Waiters, due: dict[str, int]) -> list[Offer]:
    return [offer for _, offer in waiters.takers(due)]


async def _offering(waiters: Waiters, types: list[str] | None, offer: Offer) -> asyncio.Task[bool]:
    task = asyncio.create_task(waiters.wait(types, LONG, waiters.generation, offer))
    await asyncio.sleep(0)
    return task


def test_takers_are_the_offers_that_fit_the_new_tasks_in_order() -> None:
    async def scenario(waiters: Waiters) -> None:
        mail, sms, anything = _offer("mail", 1), _offer("sms", 1), _offer("any", 1)
        waits = [
            await _offering(waiters, ["mail"], mail),
            await _offering(waiters, ["sms"], sms),
            await _offering(waiters, None, anything),
            await start(waiters, ["mail"]),  # no offer: only ever woken
        ]
        assert _taken(waiters, {"mail": 2}) == [mail, anything]
        assert _taken(waiters, {"sms": 1}) == [sms]
        assert _taken(waiters, {"mail": 1, "sms": 5}) == [mail, sms, anything]
        for wait in waits:
            wait.cancel()

    run(scenario)


def test_a_taker_with_room_for_every_new_task_is_enough() -> None:
    async def scenario(waiters: Waiters) -> None:
        big, small = _offer("big", 32), _offer("small", 1)
        waits = [await _offering(waiters, None, big), await _offering(waiters, None, small)]
        assert _taken(waiters, {"mail": 20}) == [big]
        assert _taken(waiters, {"mail": 33}) == [big, small]
        for wait in waits:
            wait.cancel()

    run(scenario)


def test_a_claim_whose_worker_hung_up_is_not_a_taker() -> None:
    async def scenario(waiters: Waiters) -> None:
        gone = [False]
        wait = await _offering(waiters, None, _offer("w", 1, gone))
        gone[0] = True
        assert waiters.takers({"mail": 1}) == []
        wait.cancel()

    run(scenario)


def test_a_taker_handed_tasks_wakes_with_them_and_one_handed_nothing_waits_on() -> None:
    async def scenario(waiters: Waiters) -> None:
        first, second = _offer("first", 1), _offer("second", 1)
        waits = [await _offering(waiters, None, first), await _offering(waiters, None, second)]
        takers = waiters.takers({"mail": 2})
        task = ClaimedTask.model_construct(id="t1", type="mail")
        released = waiters.hand(takers, [[task], []])
        assert await asyncio.wait_for(waits[0], 5) is True
        assert first.handed == [task]
        assert list(released) == ["t1"]
        waiters.release()  # not the claim's own task: nothing to release here
        assert not released["t1"].done()
        await settle()
        assert not waits[1].done() and second.handed == []
        assert _taken(waiters, {"mail": 1}) == [second]
        waits[1].cancel()

    run(scenario)
