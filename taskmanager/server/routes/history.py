"""What the dashboard reads besides the task API: a task's history, per-type overview, last hour."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from taskmanager.errors import TaskNotFound
from taskmanager.models import QueueHistory, QueueOverview, TaskHistory, TaskId
from taskmanager.server.auth import Reader
from taskmanager.server.deps import StoreDep, errors

router = APIRouter(tags=["monitoring"])


@router.get("/tasks/{task_id}/history", response_model=TaskHistory, responses=errors(TaskNotFound))
def task_history(task_id: TaskId, store: StoreDep, _: Reader) -> TaskHistory:
    """Everything that happened to a task: creation, each claim, failures, completion, retries."""
    return TaskHistory(task_id=task_id, events=store.task_events(task_id))


@router.get("/stats/overview", response_model=QueueOverview, responses=errors())
def queue_overview(
    store: StoreDep, _: Reader, window_seconds: Annotated[int, Query(ge=60, le=86400)] = 3600
) -> QueueOverview:
    """Per type: tasks by status, completions and failures in the window, oldest pending age."""
    return store.queue_overview(window_seconds)


@router.get("/stats/history", response_model=QueueHistory, responses=errors())
def queue_history(
    store: StoreDep, _: Reader, minutes: Annotated[int, Query(ge=1, le=180)] = 60
) -> QueueHistory:
    """Per minute: tasks completed, tasks failed for good, unfinished tasks at the minute's end."""
    return store.queue_history(minutes)
