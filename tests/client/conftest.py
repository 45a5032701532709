"""Clients under test: `Client` against a live server, `AsyncClient` through the real ASGI app.

Both are driven through one awaitable `Api`, so that each scenario is written once and runs
with both clients.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

from taskmanager.client import AsyncClient, Client
from taskmanager.server.app import create_app
from taskmanager.server.settings import Settings
from tests.conftest import LiveServer

Api = Callable[..., Awaitable[Any]]
"""`await api("method_name", *args, **kwargs)`: one client method, sync or async."""
Scenario = Callable[[Api], Awaitable[None]]


def run_sync(client: Client, scenario: Scenario) -> None:
    async def api(name: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(client, name)(*args, **kwargs)

    asyncio.run(scenario(api))


def run_async(settings: Settings, scenario: Scenario) -> None:
    app = create_app(settings)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            AsyncClient("http://app/api", transport=transport) as client,
        ):

            async def api(name: str, *args: Any, **kwargs: Any) -> Any:
                return await getattr(client, name)(*args, **kwargs)

            await scenario(api)

    asyncio.run(main())


@pytest.fixture(params=["Client", "AsyncClient"])
def run_with(request: pytest.FixtureRequest, db_url: str) -> Iterator[Callable[[Scenario], None]]:
    """Run a scenario with `Client` over a live server, or `AsyncClient` in process."""
    if request.param == "AsyncClient":
        settings = Settings(database_url=db_url, migrate_on_start=False)
        yield lambda scenario: run_async(settings, scenario)
        return
    server: LiveServer = request.getfixturevalue("live_server")
    with Client(server.api_url, timeout=10) as client:
        yield lambda scenario: run_sync(client, scenario)
