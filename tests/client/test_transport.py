"""How the clients travel: every error code back to its class, timeouts, one kept connection."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from taskmanager.client import AsyncClient, Client, error_from
from taskmanager.errors import _BY_CODE, TaskManagerError, Unavailable
from tests.client.servers import Health, serving


@pytest.mark.parametrize("code", sorted(_BY_CODE))
def test_each_error_code_comes_back_as_its_class(code: str) -> None:
    cls = _BY_CODE[code]
    body = {"error": code, "message": "why", "details": {"path": "$.n"}}
    error = error_from(httpx.Response(cls.status, json=body))
    assert type(error) is cls
    assert (error.message, error.details) == ("why", {"path": "$.n"})


@pytest.mark.parametrize(
    ("status", "kind"), [(503, Unavailable), (502, TaskManagerError), (500, TaskManagerError)]
)
def test_an_answer_that_is_not_ours_is_still_an_error_of_the_tree(
    status: int, kind: type[TaskManagerError]
) -> None:
    error = error_from(httpx.Response(status, text="<html>Bad gateway</html>"))
    assert type(error) is kind
    assert str(status) in error.message and "Bad gateway" in error.message


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_timeout_is_unavailable(silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}/api"
    started = time.monotonic()
    with Client(url, timeout=0.3) as client, pytest.raises(Unavailable, match="cannot reach"):
        client.get_task("x")

    async def in_asyncio() -> None:
        async with AsyncClient(url, timeout=0.3) as client:
            await client.health()

    with pytest.raises(Unavailable, match="cannot reach"):
        asyncio.run(in_asyncio())
    assert time.monotonic() - started < 5


@pytest.fixture
def keep_alive() -> Iterator[tuple[str, list[int]]]:
    with serving(Health) as served:
        yield served


def test_one_client_reuses_its_connection(keep_alive: tuple[str, list[int]]) -> None:
    url, ports = keep_alive
    with Client(url) as client:
        for _ in range(5):
            client.health()

    async def in_asyncio() -> None:
        async with AsyncClient(url) as client:
            for _ in range(5):
                await client.health()

    asyncio.run(in_asyncio())
    assert len(ports) == 10
    assert len(set(ports[:5])) == 1 and len(set(ports[5:])) == 1
