"""The clients' own HTTP/1.1 transport against real servers on 127.0.0.1.

Each scenario runs with `Client`, and with `AsyncClient` on asyncio's default loop and on uvloop
(the loop the worker runs on).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import uvloop

from taskmanager.client import AsyncClient, Client
from taskmanager.errors import Unavailable
from taskmanager.transport import AsyncHttp11Transport, Http11Transport, sync
from taskmanager.worker.api import WorkerApi
from taskmanager.worker.config import WorkerConfig
from taskmanager.worker.resilience import CircuitBreaker, TooManyErrors
from taskmanager.worker.stats import WorkerStats
from tests.client.servers import (
    HEALTH,
    Chunked,
    ClosesOnSecondRequest,
    ClosesWhenIdle,
    Drops,
    Echo,
    Health,
    Silent,
    UntilClose,
    serving,
)
from tests.conftest import free_port

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
HealthChecks = Callable[[str, int], list[dict[str, Any]]]


def _sync(url: str, times: int) -> list[dict[str, Any]]:
    with Client(url, timeout=5) as client:
        return [client.health() for _ in range(times)]


def _on(run: Runner) -> HealthChecks:
    def checks(url: str, times: int) -> list[dict[str, Any]]:
        async def main() -> list[dict[str, Any]]:
            async with AsyncClient(url, timeout=5) as client:
                return [await client.health() for _ in range(times)]

        answers: list[dict[str, Any]] = run(main())
        return answers

    return checks


RUNNERS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.fixture(params=["Client", "AsyncClient-asyncio", "AsyncClient-uvloop"])
def health_checks(request: pytest.FixtureRequest) -> HealthChecks:
    """`health_checks(url, n)`: n health checks in a row by one client, their answers."""
    if request.param == "Client":
        return _sync
    return _on(RUNNERS[request.param.split("-")[1]])


@pytest.fixture(params=sorted(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a coroutine to its end on asyncio's default loop or on uvloop."""
    return RUNNERS[request.param]


def test_the_clients_use_the_lean_transport_by_default() -> None:
    assert isinstance(Client()._http._transport, Http11Transport)
    assert isinstance(AsyncClient()._http._transport, AsyncHttp11Transport)


def test_many_requests_share_one_connection(health_checks: HealthChecks) -> None:
    with serving(Health) as (url, ports):
        assert health_checks(url, 20) == [HEALTH] * 20
    assert len(ports) == 20 and len(set(ports)) == 1


@pytest.mark.parametrize("handler", [ClosesWhenIdle, ClosesOnSecondRequest])
def test_a_server_closing_kept_connections_fails_no_call(
    health_checks: HealthChecks, handler: type[Health]
) -> None:
    with serving(handler) as (url, ports):
        assert health_checks(url, 10) == [HEALTH] * 10
    assert len(set(ports)) == 10


def test_a_kept_connection_a_stray_byte_arrived_on_is_not_used_again() -> None:
    answered, sent = threading.Event(), threading.Event()

    class StrayByte(Health):
        """Once its first answer is read, one byte more on the same connection; then the usual."""

        def handle(self) -> None:
            self.handle_one_request()
            if answered.wait(5):
                self.wfile.write(b"x")
                sent.set()
            super().handle()

    with serving(StrayByte) as (url, ports), Client(url, timeout=5) as client:
        assert client.health() == HEALTH
        answered.set()
        assert sent.wait(5)
        time.sleep(0.05)  # the byte is sent; let loopback deliver it before the next call
        assert client.health() == HEALTH  # not "x" and then the answer: a malformed one
    assert len(set(ports)) == 2


@pytest.mark.parametrize("handler", [Chunked, UntilClose])
def test_chunked_and_close_delimited_answers_are_read_whole(
    health_checks: HealthChecks, handler: type[Health]
) -> None:
    with serving(handler) as (url, _):
        assert health_checks(url, 3) == [HEALTH] * 3


def test_a_request_dropped_on_a_new_connection_is_unavailable_and_not_sent_again(
    health_checks: HealthChecks,
) -> None:
    """Only a request on a kept connection that got no byte of answer is sent again."""
    with serving(Drops) as (url, ports), pytest.raises(Unavailable, match="disconnected"):
        health_checks(url, 1)
    assert len(ports) == 1


def test_a_refused_connection_is_unavailable(health_checks: HealthChecks) -> None:
    url = f"http://127.0.0.1:{free_port()}/api"
    with pytest.raises(Unavailable, match="cannot reach"):
        health_checks(url, 1)


def test_no_answer_in_time_is_unavailable(run: Runner) -> None:
    silent = Silent()

    async def main() -> None:
        async with AsyncClient(silent.url, timeout=0.3) as client:
            await client.health()

    try:
        with pytest.raises(Unavailable, match="cannot reach"):
            run(main())
    finally:
        silent.close()


def test_the_worker_retries_a_call_that_timed_out(run: Runner) -> None:
    """A read timeout counts as a transient API error, retried until the breaker gives up."""
    silent = Silent()
    config = WorkerConfig(api_url=silent.url, poll_interval=0, max_consecutive_errors=2)
    breaker = CircuitBreaker(2, rng=random.Random(1))

    async def main() -> None:
        async with AsyncClient(silent.url, timeout=0.2) as client:
            api = WorkerApi(client, config, breaker, WorkerStats())
            await api.claim(1)

    try:
        with pytest.raises(TooManyErrors, match="cannot reach"):
            run(main())
    finally:
        silent.close()
    assert breaker.failures == 2


def test_a_cancelled_request_closes_its_connection(run: Runner) -> None:
    silent = Silent()

    async def main() -> bool:
        async with AsyncClient(silent.url, timeout=30) as client:
            call = asyncio.ensure_future(client.claim("w", wait_seconds=25))
            while not silent.requested.is_set():
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            # Seen from the server while the client and its loop still live.
            return await asyncio.to_thread(silent.hung_up.wait, 10)

    try:
        assert run(main()), "the server still holds the cancelled request's connection"
    finally:
        silent.close()


def test_more_threads_than_connections_each_get_their_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its connection limit a client's calls wait for a place, and every place comes back."""
    monkeypatch.setattr(sync, "MAX_CONNECTIONS", 2)
    with (
        serving(Health) as (url, ports),
        Client(url, timeout=5) as client,
        ThreadPoolExecutor(8) as pool,
    ):
        answers = list(pool.map(lambda _: client.health(), range(80)))
    assert answers == [HEALTH] * 80
    assert len(ports) == 80 and len(set(ports)) <= 2


def test_a_body_larger_than_one_read_arrives_whole(run: Runner) -> None:
    """A request body and its echo of a few hundred kilobytes, both ways in many reads."""
    with serving(Echo) as (url, _):
        request = httpx.Request("POST", url + "/echo", json={"blob": "x" * 400_000})
        with Http11Transport() as transport:
            response = transport.handle_request(request)
            assert response.read() == request.content

        async def main() -> bytes:
            async with AsyncHttp11Transport() as transport:
                response = await transport.handle_async_request(request)
                return await response.aread()

        assert run(main()) == request.content
