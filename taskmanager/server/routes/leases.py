"""What workers call: claim (with long poll), heartbeat, complete, fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from fastapi import APIRouter, Request, Response

from taskmanager.errors import InvalidState, LeaseLost, TaskCancelled, TaskNotFound
from taskmanager.models import (
    ClaimBatchRequest,
    ClaimedBatch,
    ClaimedTask,
    ClaimRequest,
    CompleteBatchRequest,
    CompleteBatchResult,
    CompleteRequest,
    FailRequest,
    HeartbeatRequest,
    Task,
    TaskId,
)
from taskmanager.server import instruments
from taskmanager.server.answers import answer
from taskmanager.server.auth import WorkerRole, require_token
from taskmanager.server.deps import StoreDep, WaitersDep, errors, store_call
from taskmanager.server.longpoll import Offer, Waiters, announce
from taskmanager.server.protocol import hung_up
from taskmanager.storage import ClaimArgs, Store

router = APIRouter(tags=["workers"])


async def claim_tasks(
    store: Store,
    waiters: Waiters,
    request: ClaimRequest,
    limit: int,
    http: Request,
) -> Sequence[ClaimedTask]:
    """Claim now, or wait up to `wait_seconds` for something to claim.

    A long poll whose worker hung up (say, it is stopping) must not lease a task that nobody
    would run until the lease expires: it stops waiting when `http` is disconnected. Where the
    server tells the request of a hang-up at once (server/protocol.py), the wait leaves an
    offer, and a create may lease the claim its tasks in the create's own transaction.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + request.wait_seconds
    woken = False
    claimed: Sequence[ClaimedTask] = []
    offer = _offer(request, limit, http)
    try:
        while True:
            since = waiters.generation
            started = time.perf_counter()
            claimed = await store_call(
                http,
                store.claim,
                request.worker_id,
                request.task_types,
                request.lease_seconds,
                limit,
            )
            instruments.observe_claim(time.perf_counter() - started, claimed)
            if claimed:
                if woken and len(claimed) == limit:  # there may be more: wake the next
                    waiters.pass_baton(claimed[-1].type)
                return claimed  # its answer releases the waker (`Waiters.answered`)
            waiters.release()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            delay = await store_call(http, _seconds_until_due, store, request.task_types)
            if delay is not None:
                waiters.wake_at(delay, frozenset(request.task_types or ()) or None)
            timeout = min(remaining, waiters.recheck_seconds)
            woken = await waiters.wait(request.task_types, timeout, since, offer)
            if offer is not None and offer.handed:
                claimed = _handed(waiters, offer.handed, limit)
                return claimed
            if await http.is_disconnected():
                if woken:
                    waiters.notify(None)  # pass the wake-up on to a claim still listening
                return []
    finally:
        if not claimed:
            waiters.release()


def _handed(waiters: Waiters, claimed: list[ClaimedTask], limit: int) -> list[ClaimedTask]:
    """Tasks a create leased to the waiting claim; when they fill it, there may be more."""
    instruments.observe_leased(claimed)
    if len(claimed) == limit:
        waiters.pass_baton(claimed[-1].type)
    return claimed


def _offer(request: ClaimRequest, limit: int, http: Request) -> Offer | None:
    """The claim's offer to take tasks from a create, if its server reports hang-ups."""
    gone = hung_up(http.scope)
    if gone is None:
        return None
    args = ClaimArgs(request.worker_id, request.task_types, request.lease_seconds, limit)
    return Offer(args, gone)


def _seconds_until_due(store: Store, task_types: Sequence[str] | None) -> float | None:
    """How long until a task may become claimable; with the store call, as the clock may do
    I/O."""
    due = store.next_due_at(task_types)
    return None if due is None else (due - store.clock.now()).total_seconds()


@router.post("/tasks/claim", response_model=ClaimedTask | None, responses=errors())
async def claim(
    body: ClaimRequest, store: StoreDep, waiters: WaitersDep, http: Request, _: WorkerRole
) -> Response:
    """Lease the next task, or `null` when none is available (after `wait_seconds`)."""
    claimed = await claim_tasks(store, waiters, body, 1, http)
    return answer(ClaimedTask, claimed[0] if claimed else None, after=waiters.answered)


@router.post("/tasks/claim/batch", response_model=ClaimedBatch, responses=errors())
async def claim_batch(
    body: ClaimBatchRequest, store: StoreDep, waiters: WaitersDep, http: Request, _: WorkerRole
) -> Response:
    """Lease up to `limit` tasks at once; an empty list when none is available."""
    claimed = await claim_tasks(store, waiters, body, body.limit, http)
    return answer(ClaimedBatch, ClaimedBatch(tasks=list(claimed)), after=waiters.answered)


@router.post(
    "/tasks/{task_id}/heartbeat",
    response_model=Task,
    responses=errors(TaskNotFound, LeaseLost, TaskCancelled),
)
async def heartbeat(
    task_id: TaskId, body: HeartbeatRequest, store: StoreDep, http: Request, _: WorkerRole
) -> Response:
    """Extend the lease and report progress; 409 tells the worker to stop."""
    return answer(Task, await store_call(http, store.heartbeat, task_id, body))


@router.post(
    "/tasks/{task_id}/complete",
    response_model=Task,
    responses=errors(TaskNotFound, LeaseLost, TaskCancelled, InvalidState),
)
async def complete(
    task_id: TaskId, body: CompleteRequest, store: StoreDep, http: Request, caller: WorkerRole
) -> Response:
    """Record the result of a task the caller holds."""
    require_token(caller, body.lease_token)
    task = await store_call(
        http, store.complete, task_id, body.result, body.worker_id, body.lease_token
    )
    instruments.observe_completed([task])
    return answer(Task, task)


@router.post(
    "/tasks/{task_id}/fail",
    response_model=Task,
    responses=errors(TaskNotFound, LeaseLost, TaskCancelled),
)
async def fail(
    task_id: TaskId,
    body: FailRequest,
    store: StoreDep,
    waiters: WaitersDep,
    http: Request,
    caller: WorkerRole,
) -> Response:
    """Record a failed attempt; the task is retried after a backoff while attempts remain."""
    require_token(caller, body.lease_token)
    return answer(Task, await store_call(http, _fail, store, waiters, task_id, body))


def _fail(store: Store, waiters: Waiters, task_id: str, body: FailRequest) -> Task:
    """Fail and wake a claim for the retry; with the store call, as the clock may do I/O."""
    task = store.fail(task_id, body)
    announce(waiters, [task], store.clock.now())
    return task


@router.post("/tasks/complete/batch", response_model=CompleteBatchResult, responses=errors())
async def complete_batch(
    body: CompleteBatchRequest, store: StoreDep, http: Request, _: WorkerRole
) -> Response:
    """Complete several held tasks at once; each item says how it went."""
    batch = await store_call(
        http, store.complete_many, body.worker_id, body.tasks, body.include_tasks
    )
    instruments.observe_processing(batch.processing)
    return answer(CompleteBatchResult, CompleteBatchResult(tasks=batch.outcomes))
