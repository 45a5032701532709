"""Task types: defaults and a params schema per type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from taskmanager.errors import NotFound
from taskmanager.models import TYPE_PATTERN, TaskTypeInfo, TaskTypeList, TaskTypeUpdate
from taskmanager.server.auth import Admin, Reader
from taskmanager.server.deps import StoreDep, errors

router = APIRouter(tags=["task types"])

TypeName = Annotated[str, Path(pattern=TYPE_PATTERN)]


@router.put("/task-types/{name}", response_model=TaskTypeInfo, responses=errors())
def put_task_type(name: TypeName, body: TaskTypeUpdate, store: StoreDep, _: Admin) -> TaskTypeInfo:
    """Create or replace a task type; new tasks of the type are checked against its schema."""
    return store.put_task_type(name, body)


@router.get("/task-types", response_model=TaskTypeList, responses=errors())
def list_task_types(store: StoreDep, _: Reader) -> TaskTypeList:
    """All task types."""
    return TaskTypeList(task_types=store.list_task_types())


@router.get("/task-types/{name}", response_model=TaskTypeInfo, responses=errors(NotFound))
def get_task_type(name: TypeName, store: StoreDep, _: Reader) -> TaskTypeInfo:
    """One task type."""
    return store.get_task_type(name)
