"""What operators get beside the API: the dashboard, /metrics, history endpoints, the purge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from taskmanager.server.instruments import HttpMetrics
from taskmanager.server.purger import background_purge
from taskmanager.server.routes import dashboard, history, metrics
from taskmanager.server.settings import Settings
from taskmanager.storage import Store


def install(app: FastAPI) -> None:
    """Add the operations routes and the HTTP metrics middleware to the app."""
    app.add_middleware(HttpMetrics)
    app.include_router(history.router, prefix="/api")
    app.include_router(metrics.router)
    dashboard.mount(app)


@asynccontextmanager
async def running(settings: Settings, store: Store) -> AsyncIterator[None]:
    """Background work that lives as long as the server: the optional purge."""
    async with background_purge(store, settings.purge_plan(), settings.purge_interval_minutes * 60):
        yield
