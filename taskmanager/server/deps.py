"""What routes receive: the store, the long-poll waiters, the settings; and error docs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from taskmanager.errors import TaskManagerError
from taskmanager.models import ErrorBody
from taskmanager.server.longpoll import Waiters
from taskmanager.server.settings import Settings
from taskmanager.storage import Store

T = TypeVar("T")


# These only read app.state, so they are async: FastAPI runs a sync dependency in the thread
# pool, a hop that costs more than the dependency itself.
async def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _waiters(request: Request) -> Waiters:
    waiters: Waiters = request.app.state.waiters
    return waiters


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


StoreDep = Annotated[Store, Depends(_store)]
WaitersDep = Annotated[Waiters, Depends(_waiters)]
SettingsDep = Annotated[Settings, Depends(_settings)]


async def store_call(request: Request, work: Callable[..., T], *args: Any) -> T:
    """Run `work(*args)`, a call into the store, where this app runs them: on the event loop
    or in the thread pool (`Settings.store_on_event_loop`)."""
    if request.app.state.store_on_loop:
        return work(*args)
    return await run_in_threadpool(work, *args)


def errors(*kinds: type[TaskManagerError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors an endpoint can answer with, besides the ones every
    authenticated endpoint has (401, 403, 413, 422, 429, 503)."""
    described: dict[int, list[str]] = {
        401: ["unauthorized"],
        403: ["forbidden"],
        413: ["payload_too_large"],
        422: ["validation_error"],
        429: ["rate_limited"],
        503: ["unavailable"],
    }
    for kind in kinds:
        described.setdefault(kind.status, []).append(kind.code)
    return {
        status: {"model": ErrorBody, "description": "error: " + ", ".join(sorted(set(codes)))}
        for status, codes in sorted(described.items())
    }
