"""The worker's life: health check, claim loop, graceful and hurried stops, final statistics."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import suppress
from typing import Any

from taskmanager.client import AsyncClient
from taskmanager.errors import InvalidState, LeaseLost, TaskCancelled, TaskManagerError
from taskmanager.worker.api import StartupFailed, WorkerApi, key_hint
from taskmanager.worker.config import WorkerConfig
from taskmanager.worker.execution import Outcome, TaskRun
from taskmanager.worker.handlers import Registry
from taskmanager.worker.resilience import CircuitBreaker, TooManyErrors
from taskmanager.worker.stats import WorkerStats

log = logging.getLogger("taskmanager.worker")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
SWEEP_TIMEOUT_SECONDS = 5.0


class Runner:
    """One run of a worker: claims while it may, runs up to `concurrency` tasks at once."""

    def __init__(self, registry: Registry, config: WorkerConfig, client: AsyncClient) -> None:
        self.registry = registry
        self.config = config
        self.stats = WorkerStats()
        self.api = WorkerApi(
            client, config, CircuitBreaker(config.max_consecutive_errors), self.stats
        )
        self.in_hand: dict[str, tuple[TaskRun, asyncio.Task[None]]] = {}
        self.claimed = 0
        self.signals = 0
        self.failure: str | None = None
        self.claim_cut_off = False
        self.stopping = asyncio.Event()  # no more claims
        self.aborting = asyncio.Event()  # give back what is in hand, now
        self.changed = asyncio.Event()

    # -- stopping ------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """First call: finish the tasks in hand and exit. Second: hand them back and exit."""
        self.signals += 1
        if self.signals == 1:
            log.info(
                "stop requested: finishing %d task(s) in hand; signal again to hand them "
                "back and exit at once",
                len(self.in_hand),
            )
            self.stopping.set()
        else:
            log.warning(
                "second stop request: handing back %d task(s) and exiting", len(self.in_hand)
            )
            self.aborting.set()
        self.changed.set()

    def _fail_run(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
            log.error("%s", reason)
        self.stopping.set()
        self.aborting.set()
        self.changed.set()

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until max runs, a signal, or a failure; returns the exit status."""
        with self._signals():
            try:
                health = await self.api.check_health()
            except StartupFailed as exc:
                log.error("%s", exc)
                return EXIT_FAILURE
            self._log_start(health)
            await self._claim_loop()
            await self._drain()
            await self._sweep()
        return self._finish()

    async def _claim_loop(self) -> None:
        while not self.stopping.is_set() and self._runs_left() > 0:
            free = self.config.concurrency - len(self.in_hand)
            if free <= 0:
                await self._wait_for_change()
                continue
            await self._claim(min(free, self._runs_left()))

    def _runs_left(self) -> int:
        if not self.config.max_runs:
            return self.config.concurrency
        return self.config.max_runs - self.claimed

    async def _claim(self, limit: int) -> None:
        """Claim up to `limit` tasks and start them, unless the stop cuts the claim off."""
        claiming = asyncio.create_task(self._claim_and_start(limit))
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({claiming, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not claiming.done():
            claiming.cancel()
            with suppress(asyncio.CancelledError):
                await claiming
            self.claim_cut_off = True
            return
        try:
            claiming.result()
        except TooManyErrors as exc:
            self._fail_run(str(exc))
        except TaskManagerError as exc:
            refusal = f"{exc.message} ({exc.code}){key_hint(exc)}"
            self._fail_run(f"the API refused to hand out tasks: {refusal}")

    async def _claim_and_start(self, limit: int) -> None:
        # Started in the turn of the loop that read the claim's answer: waking the claim loop
        # first (through `asyncio.wait`) took two more turns before each handler could start.
        for task in await self.api.claim(limit):
            self._start(task)

    def _start(self, task: dict[str, Any]) -> None:
        self.claimed += 1
        run = TaskRun(task, self.api, self.registry)
        log.debug("claimed task %s %s", run.id, run.ctx.type, extra={"task_id": run.id})
        # The handler's own task is made here, ahead of the one that waits for it and reports:
        # it starts in the next turn of the loop instead of the one after.
        run.start()
        self.in_hand[run.id] = (run, asyncio.create_task(self._work(run), name=f"task {run.id}"))

    async def _work(self, run: TaskRun) -> None:
        try:
            outcome = await run.finish()
        except TooManyErrors as exc:
            outcome = Outcome("unreported", str(exc))
            self._fail_run(str(exc))
        except Exception as exc:  # a defect here must not pass silently, nor stop the others
            log.exception("task %s: the worker failed to handle it", run.id)
            outcome = Outcome("unreported", repr(exc))
        finally:
            self.in_hand.pop(run.id, None)
            self.changed.set()
        self._record(run, outcome)

    def _record(self, run: TaskRun, outcome: Outcome) -> None:
        run.log_outcome(outcome)
        self.stats.record(outcome.name, time.monotonic() - run.started)

    async def _wait_for_change(self) -> None:
        await self.changed.wait()
        self.changed.clear()

    # -- finishing -----------------------------------------------------------------------------

    async def _drain(self) -> None:
        """Let the tasks in hand finish, unless told to hurry: then hand them back."""
        while self.in_hand and not self.aborting.is_set():
            await self._wait_for_change()
        if self.in_hand:
            await self._hand_back_all()

    async def _hand_back_all(self) -> None:
        runs = [run for run, _ in self.in_hand.values()]
        for run, working in list(self.in_hand.values()):
            working.cancel()
            run.abandon()  # `working` may be cancelled before it ever ran to stop the handler
        await asyncio.gather(*(self._hand_back(run) for run in runs))

    async def _hand_back(self, run: TaskRun) -> None:
        reason = f"handed back by worker {self.config.worker_id}, which is stopping"
        try:
            await self.api.hand_back(run.id, run.task["lease_token"], reason)
            outcome = Outcome("handed_back")
        except (LeaseLost, TaskCancelled, InvalidState) as exc:
            outcome = Outcome("lease_lost", f"not handed back: {exc.message}")
        except (TaskManagerError, TimeoutError) as exc:
            outcome = Outcome("unreported", f"could not hand back: {exc}")
        self._record(run, outcome)

    async def _sweep(self) -> None:
        """A claim cut off by the stop may have leased a task we never saw: give it back."""
        if not self.claim_cut_off or self.failure:
            return
        try:
            async with asyncio.timeout(SWEEP_TIMEOUT_SECONDS):
                held = await self.api.held_tasks()
            for task in held:
                reason = f"claimed while worker {self.config.worker_id} was stopping"
                await self.api.hand_back(task["id"], None, reason)
                log.info("handed back task %s, claimed as the worker stopped", task["id"])
        except (TaskManagerError, TimeoutError) as exc:
            log.warning("could not check for tasks claimed while stopping: %s", exc)

    def _finish(self) -> int:
        status = EXIT_FAILURE if self.failure or self.aborting.is_set() else EXIT_OK
        summary = self.stats.summary()
        log.info(
            "worker %s stopped (exit status %d): %s",
            self.config.worker_id,
            status,
            self.stats.describe(),
            extra={"stats": summary, "exit_status": status},
        )
        return status

    def _log_start(self, health: dict[str, Any]) -> None:
        config = self.config
        types = ", ".join(config.task_types or self.registry.types())
        runs = config.max_runs or "unlimited"
        log.info(
            "worker %s started: API %s (version %s), concurrency %d, poll interval %g s, "
            "max runs %s, task types: %s",
            config.worker_id,
            self.api.client.api_url,
            health.get("version", "?"),
            config.concurrency,
            config.poll_interval,
            runs,
            types,
        )

    # -- signals -------------------------------------------------------------------------------

    def _signals(self) -> _SignalHandlers:
        return _SignalHandlers(self.request_stop)


class _SignalHandlers:
    """SIGTERM and SIGINT call `on_signal` while the run lasts (when the platform allows)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, on_signal: Any) -> None:
        self.on_signal = on_signal
        self.installed: list[signal.Signals] = []

    def __enter__(self) -> _SignalHandlers:
        loop = asyncio.get_running_loop()
        for number in self.SIGNALS:
            try:
                loop.add_signal_handler(number, self.on_signal)
            except (NotImplementedError, RuntimeError, ValueError):
                continue  # not the main thread, or not a Unix loop: stop() still works
            self.installed.append(number)
        return self

    def __exit__(self, *_exc: object) -> None:
        loop = asyncio.get_running_loop()
        for number in self.installed:
            loop.remove_signal_handler(number)
