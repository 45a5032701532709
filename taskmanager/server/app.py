"""The ASGI application: `create_app(settings)` and the one error handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from taskmanager import __version__, heap
from taskmanager.clock import Clock
from taskmanager.errors import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TaskManagerError,
    Unavailable,
    ValidationFailed,
)
from taskmanager.server import operations
from taskmanager.server.answers import render
from taskmanager.server.auth import Authenticator, RateLimiter, access_at_start, bootstrap_keys
from taskmanager.server.grouping import CreateGroups
from taskmanager.server.hotpath import HotPaths
from taskmanager.server.limits import BodyLimit
from taskmanager.server.logs import configure as configure_logging
from taskmanager.server.longpoll import Waiters
from taskmanager.server.routes import health, leases, task_types, tasks, workers
from taskmanager.server.settings import Settings
from taskmanager.storage import Store, open_store

log = logging.getLogger("taskmanager.server")

# The endpoints a busy queue calls most, answered by `HotPaths` without FastAPI's routing.
HOT_ENDPOINTS = (
    tasks.create_task,
    tasks.create_tasks,
    leases.claim,
    leases.claim_batch,
    leases.heartbeat,
    leases.complete,
    leases.complete_batch,
    leases.fail,
)


class Api(FastAPI):
    """FastAPI with `HotPaths` in front: the busiest endpoints are answered before its
    middleware and routing; every other request goes through them."""

    hot_paths: HotPaths | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_paths is None:
            await self.plain(scope, receive, send)
        else:
            await self.hot_paths(scope, receive, send)

    async def plain(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request through FastAPI's middleware and routing."""
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    settle_heap: bool = False,
) -> FastAPI:
    """Build the API for these settings (read from the environment when not given). With
    `settle_heap`, for a process that serves this app alone, `heap.settle()` runs once
    started."""
    settings = settings or Settings()
    store = store or open_store(
        settings.database_url,
        clock=clock,
        default_lease_seconds=settings.default_lease_seconds,
        default_max_attempts=settings.default_max_attempts,
        retry=settings.retry_policy(),
        options=settings.engine_options(),
    )
    waiters = Waiters(settings.long_poll_recheck_seconds)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        waiters.bind(asyncio.get_running_loop())
        if settings.migrate_on_start:
            await asyncio.to_thread(store.migrate)
        await asyncio.to_thread(_check_at_start, store, settings)
        watch = store.watch(
            waiters.notify, lambda: waiters.waiting > 0, settings.watch_interval_seconds
        )
        async with operations.running(settings, store):
            if settle_heap:
                heap.settle()
            yield
        watch.stop()
        store.close()

    app = Api(
        title="TaskManager",
        version=__version__,
        description="A central task queue: clients create tasks; workers claim, run, report them.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.waiters = waiters
    app.state.store_on_loop = settings.store_on_event_loop(store.embedded)
    app.state.create_groups = CreateGroups(store, waiters) if app.state.store_on_loop else None
    app.state.authenticator = Authenticator(store, settings)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.auth_failure_limiter = RateLimiter(
        settings.auth_failure_limit_per_second,
        settings.auth_failure_burst,
        "for failed authentications from this address",
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.hot_paths = HotPaths(
        app,
        app.plain,
        prefix="/api",
        routers=(tasks.router, leases.router),
        endpoints=HOT_ENDPOINTS,
        max_bytes=settings.max_body_bytes,
    )
    for module in (health, tasks, leases, workers, task_types):
        app.include_router(module.router, prefix="/api")
    operations.install(app)
    _install_error_handlers(app)
    return app


def _check_at_start(store: Store, settings: Settings) -> None:
    """Log what the database and the key setup mean; refuse what must not run."""
    try:
        for warning in store.check_server():
            log.warning("database: %s", warning)
        for level, note in bootstrap_keys(store, settings):
            log.log(level, "%s", note)
        allowed, message = access_at_start(store, settings)
    except Unavailable:
        # Start anyway: requests answer 503 until the database is back, then recover.
        log.warning("the database is unavailable at start; requests answer 503 until it is back")
        return
    if not allowed:
        raise RuntimeError(message)
    log.log(logging.WARNING if "anonymous" in message else logging.INFO, message)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TaskManagerError)
    async def _known(_request: Request, exc: TaskManagerError) -> JSONResponse:
        return render(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(validation_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return render(NotFound("no such endpoint"))
        if exc.status_code == 405:
            return render(MethodNotAllowed("method not allowed on this endpoint"))
        if exc.status_code == 413:
            return render(PayloadTooLarge(str(exc.detail)))
        if exc.status_code == 400:
            # A body that is not JSON at all (bad UTF-8, runaway nesting) is bad input too.
            return render(ValidationFailed(str(exc.detail)))
        body = {"error": "http_error", "message": str(exc.detail), "details": {}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = {"error": "internal_error", "message": "internal server error", "details": {}}
        return JSONResponse(body, status_code=500)


def validation_error(errors: Any) -> ValidationFailed:
    """One readable 422 from pydantic's list of errors."""
    problems = [
        {
            "path": ".".join(str(part) for part in error.get("loc", ()) if part != "body"),
            "message": str(error.get("msg", "invalid")),
            "type": str(error.get("type", "")),
        }
        for error in errors
    ]
    first = problems[0] if problems else {"path": "", "message": "invalid request"}
    where = f"{first['path']}: " if first["path"] else ""
    return ValidationFailed(f"{where}{first['message']}", {"errors": problems[:20]})


def app_from_env() -> FastAPI:
    """The app with settings from the environment: the factory `taskmanager serve` runs."""
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    # `serve` migrated already; N worker processes need not race to do it again.
    return create_app(settings.model_copy(update={"migrate_on_start": False}), settle_heap=True)
