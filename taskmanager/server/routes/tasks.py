"""Creating, listing and reading tasks; cancel and retry."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from taskmanager.errors import Conflict, InvalidState, TaskNotFound, ValidationFailed
from taskmanager.models import (
    TYPE_PATTERN,
    Task,
    TaskBatch,
    TaskBatchCreate,
    TaskCreate,
    TaskId,
    TaskList,
    WorkerId,
)
from taskmanager.server.answers import answer
from taskmanager.server.auth import Admin, Producer, Reader
from taskmanager.server.deps import SettingsDep, StoreDep, WaitersDep, errors, store_call
from taskmanager.server.grouping import CreateGroups
from taskmanager.server.longpoll import Waiters, announce
from taskmanager.status import TaskStatus
from taskmanager.storage import Created, Store, TaskFilter

# The routes that a busy queue calls most are async around one explicit store call, on the
# event loop or in the thread pool (`store_call`): a sync route costs two thread-pool hops, one
# for the route and one for validating its answer.
router = APIRouter(tags=["tasks"])


@router.post(
    "/tasks",
    response_model=Task,
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(Conflict),
        200: {"model": Task, "description": "an idempotent replay: the existing task"},
    },
)
async def create_task(
    body: TaskCreate, store: StoreDep, waiters: WaitersDep, http: Request, _: Producer
) -> Response:
    """Create a task. The same idempotency key and body again returns the first task."""
    (outcome,) = await _create_and_hand_over(http, store, waiters, [body])
    code = status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK
    return answer(Task, outcome.task, code)


@router.post(
    "/tasks/batch",
    response_model=TaskBatch,
    status_code=status.HTTP_201_CREATED,
    responses=errors(Conflict),
)
async def create_tasks(
    body: TaskBatchCreate, store: StoreDep, waiters: WaitersDep, http: Request, _: Producer
) -> Response:
    """Create up to 1000 tasks in one transaction: all of them or none."""
    outcomes = await _create_and_hand_over(http, store, waiters, body.tasks)
    return answer(TaskBatch, TaskBatch(tasks=[o.task for o in outcomes]), status.HTTP_201_CREATED)


async def _create_and_hand_over(
    http: Request, store: Store, waiters: Waiters, items: Sequence[TaskCreate]
) -> list[Created]:
    """Create, wake the claims waiting for the new tasks, and answer once they have leased
    them: a waiting worker hears of its task before the creator hears of the creation."""
    groups: CreateGroups | None = http.app.state.create_groups
    if groups is not None and len(items) == 1:  # store calls on the loop: grouped
        outcome, woken = await groups.create(items[0])
        outcomes = [outcome]
    else:
        outcomes, woken = await store_call(http, _create, store, waiters, items)
    await waiters.handed_over(woken)
    return outcomes


def _create(
    store: Store, waiters: Waiters, items: Sequence[TaskCreate]
) -> tuple[list[Created], list[asyncio.Future[None]]]:
    """Create and wake the claims waiting for them; with the store call, as the clock may do
    I/O."""
    outcomes = store.create_tasks(items)
    return outcomes, announce(waiters, [o.task for o in outcomes if o.created], store.clock.now())


@router.get("/tasks", response_model=TaskList, responses=errors())
async def list_tasks(
    store: StoreDep,
    settings: SettingsDep,
    http: Request,
    _: Reader,
    status_: Annotated[TaskStatus | None, Query(alias="status")] = None,
    type_: Annotated[str | None, Query(alias="type", pattern=TYPE_PATTERN)] = None,
    worker_id: Annotated[WorkerId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> TaskList:
    """Tasks, newest first, filtered; follow `next_cursor` for the next page."""
    if limit > settings.max_page_size:
        raise ValidationFailed(
            f"limit: at most {settings.max_page_size} tasks a page",
            {"limit": limit, "max": settings.max_page_size},
        )
    # Async for the reason given in routes/workers.py.
    where = TaskFilter(status_, type_, worker_id)
    page, next_cursor = await store_call(http, store.list_tasks, where, limit, cursor)
    return TaskList(tasks=page, next_cursor=next_cursor)


@router.get("/tasks/{task_id}", response_model=Task, responses=errors(TaskNotFound))
async def get_task(task_id: TaskId, store: StoreDep, http: Request, _: Reader) -> Response:
    """One task."""
    return answer(Task, await store_call(http, store.get_task, task_id))


@router.post(
    "/tasks/{task_id}/cancel", response_model=Task, responses=errors(TaskNotFound, InvalidState)
)
def cancel_task(task_id: TaskId, store: StoreDep, _: Admin) -> Task:
    """Cancel a pending or processing task; its worker learns of it on its next heartbeat."""
    return store.cancel(task_id)


@router.post(
    "/tasks/{task_id}/retry", response_model=Task, responses=errors(TaskNotFound, InvalidState)
)
def retry_task(task_id: TaskId, store: StoreDep, waiters: WaitersDep, _: Admin) -> Task:
    """Send a failed or cancelled task back to pending with its attempts reset."""
    task = store.retry(task_id)
    announce(waiters, [task], store.clock.now())
    return task
