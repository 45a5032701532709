"""`Client` and `AsyncClient`: the HTTP API, one method per endpoint, errors mapped back.

Both send the same `Call` descriptions from `taskmanager.calls`; they differ only in how the
request travels (blocking or awaited). Network failures raise `Unavailable`; an error answer
raises the class of `taskmanager.errors` its code names, so `except LeaseLost` works the same
in-process and over HTTP.

On their own transport, the clients write each call's request bytes and read its answer
without httpx's request and response objects (`taskmanager.transport.direct`); httpx builds
the requests that transport cannot send as httpx would, and all of them when a transport is
given or a proxy is configured.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import httpx

from taskmanager import calls
from taskmanager.calls import Call
from taskmanager.error_answers import error_from
from taskmanager.sender import Sender
from taskmanager.transport import AsyncHttp11Transport, Http11Transport, proxy_configured
from taskmanager.transport.direct import Direct

__all__ = ["AsyncClient", "Client", "error_from"]

DEFAULT_API_URL = "http://localhost:8000/api"
DEFAULT_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


class Client(Sender):
    """A synchronous client for the TaskManager API; reuses one connection pool."""

    _http: httpx.Client

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: bool | str = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`verify`: False to skip TLS checks, or the path of a CA bundle to trust.

        `transport` replaces the lean HTTP/1.1 one (`taskmanager.transport`), which is also left
        out when a proxy is configured in the environment: httpx's own transport goes through it.
        """
        super().__init__(api_url, api_key, timeout, verify)
        self._lean: Http11Transport | None = None
        if transport is None and not proxy_configured():
            transport = self._lean = Http11Transport(self._options["verify"])
        self._http = httpx.Client(transport=transport, **self._options)
        self._direct = Direct.of(self._http) if self._lean else None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def send(self, call: Call[T]) -> T:
        """Send one call and read its answer; raises from the error tree."""
        started = time.monotonic()
        sent = self._request(call)
        try:
            if sent is None:
                response = self._http.request(call.method, call.path, **self._extra(call))
                return self._read(call, response, started)
            assert self._lean is not None
            origin, limits = sent[0].origin, self._timeouts(call)
            reader = self._lean.exchange(origin, sent[1], call.method, limits)
        except httpx.TransportError as exc:
            raise self._unreachable(call, exc, started) from exc
        return self._answer(call, sent, reader, started)

    def health(self) -> dict[str, Any]:
        """`GET /health`; Unavailable when the API or its database does not answer."""
        return self.send(calls.health())

    def create_task(
        self, type: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """Create a task; options are the other fields of `POST /tasks`."""
        return self.send(calls.create_task(type, params, options))

    def create_tasks(self, tasks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create many tasks in one all-or-nothing request."""
        return self.send(calls.create_tasks(tasks))

    def list_tasks(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        worker_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of tasks, newest first: `{"tasks": [...], "next_cursor": ...}`."""
        query = {"status": status, "type": type, "worker_id": worker_id}
        return self.send(calls.list_tasks({**query, "limit": limit, "cursor": cursor}))

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self.send(calls.get_task(task_id))

    def cancel_task(self, task_id: str) -> dict[str, Any]:
        return self.send(calls.cancel_task(task_id))

    def retry_task(self, task_id: str) -> dict[str, Any]:
        return self.send(calls.retry_task(task_id))

    def claim(
        self,
        worker_id: str,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> dict[str, Any] | None:
        """Lease one task, waiting up to `wait_seconds` for one; None when there is none."""
        body = {"worker_id": worker_id, "task_types": task_types}
        extra = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
        return self.send(calls.claim({**body, **extra}))

    def claim_batch(
        self,
        worker_id: str,
        limit: int,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Lease up to `limit` tasks at once."""
        body = {"worker_id": worker_id, "limit": limit, "task_types": task_types}
        extra = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
        return self.send(calls.claim_batch({**body, **extra}))

    def heartbeat(
        self,
        task_id: str,
        worker_id: str,
        lease_token: str,
        *,
        lease_seconds: float | None = None,
        progress: float | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Extend a lease; raises LeaseLost or TaskCancelled when the worker must stop."""
        body = {"worker_id": worker_id, "lease_token": lease_token}
        extra = {"lease_seconds": lease_seconds, "progress": progress, "message": message}
        return self.send(calls.heartbeat(task_id, {**body, **extra}))

    def complete(
        self,
        task_id: str,
        result: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        """Report a task done with its result, fenced by the lease token."""
        body = {"result": result, "worker_id": worker_id, "lease_token": lease_token}
        return self.send(calls.complete(task_id, body))

    def complete_batch(
        self, worker_id: str, items: Iterable[Mapping[str, Any]], *, include_tasks: bool = True
    ) -> list[dict[str, Any]]:
        """Complete several tasks: items are `{id, lease_token, result}`; one outcome each,
        `{id, outcome, task, error}`, whose `task` is null without `include_tasks`."""
        return self.send(calls.complete_batch(worker_id, items, include_tasks))

    def fail(
        self,
        task_id: str,
        error: str,
        *,
        retry: bool = True,
        retry_delay_seconds: float | None = None,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        """Report a failed attempt; `retry=False` makes it final."""
        body = {"error": error, "retry": retry, "retry_delay_seconds": retry_delay_seconds}
        fence = {"worker_id": worker_id, "lease_token": lease_token}
        return self.send(calls.fail(task_id, {**body, **fence}))

    def list_workers(self) -> list[dict[str, Any]]:
        return self.send(calls.list_workers())

    def worker_stats(self, worker_id: str) -> dict[str, Any]:
        return self.send(calls.worker_stats(worker_id))

    def stats(self) -> dict[str, Any]:
        return self.send(calls.stats())

    def put_task_type(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create or replace a task type: params_schema, max_attempts, lease_seconds, ..."""
        return self.send(calls.put_task_type(name, settings))

    def get_task_type(self, name: str) -> dict[str, Any]:
        return self.send(calls.get_task_type(name))

    def list_task_types(self) -> list[dict[str, Any]]:
        return self.send(calls.list_task_types())


class AsyncClient(Sender):
    """The same API as `Client`, for asyncio: every method is awaited."""

    _http: httpx.AsyncClient

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`verify` and `transport` as for `Client`."""
        super().__init__(api_url, api_key, timeout, verify)
        self._lean: AsyncHttp11Transport | None = None
        if transport is None and not proxy_configured():
            transport = self._lean = AsyncHttp11Transport(self._options["verify"])
        self._http = httpx.AsyncClient(transport=transport, **self._options)
        self._direct = Direct.of(self._http) if self._lean else None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send one call and read its answer; raises from the error tree."""
        started = time.monotonic()
        sent = self._request(call)
        try:
            if sent is None:
                response = await self._http.request(call.method, call.path, **self._extra(call))
                return self._read(call, response, started)
            assert self._lean is not None
            origin, limits = sent[0].origin, self._timeouts(call)
            reader = await self._lean.exchange(origin, sent[1], call.method, limits)
        except httpx.TransportError as exc:
            raise self._unreachable(call, exc, started) from exc
        return self._answer(call, sent, reader, started)

    async def health(self) -> dict[str, Any]:
        """`GET /health`; Unavailable when the API or its database does not answer."""
        return await self.send(calls.health())

    async def create_task(
        self, type: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """Create a task; options are the other fields of `POST /tasks`."""
        return await self.send(calls.create_task(type, params, options))

    async def create_tasks(self, tasks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create many tasks in one all-or-nothing request."""
        return await self.send(calls.create_tasks(tasks))

    async def list_tasks(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        worker_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of tasks, newest first: `{"tasks": [...], "next_cursor": ...}`."""
        query = {"status": status, "type": type, "worker_id": worker_id}
        return await self.send(calls.list_tasks({**query, "limit": limit, "cursor": cursor}))

    async def get_task(self, task_id: str) -> dict[str, Any]:
        return await self.send(calls.get_task(task_id))

    async def cancel_task(self, task_id: str) -> dict[str, Any]:
        return await self.send(calls.cancel_task(task_id))

    async def retry_task(self, task_id: str) -> dict[str, Any]:
        return await self.send(calls.retry_task(task_id))

    async def claim(
        self,
        worker_id: str,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> dict[str, Any] | None:
        """Lease one task, waiting up to `wait_seconds` for one; None when there is none."""
        body = {"worker_id": worker_id, "task_types": task_types}
        extra = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
        return await self.send(calls.claim({**body, **extra}))

    async def claim_batch(
        self,
        worker_id: str,
        limit: int,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Lease up to `limit` tasks at once."""
        body = {"worker_id": worker_id, "limit": limit, "task_types": task_types}
        extra = {"lease_seconds": lease_seconds, "wait_seconds": wait_seconds}
        return await self.send(calls.claim_batch({**body, **extra}))

    async def heartbeat(
        self,
        task_id: str,
        worker_id: str,
        lease_token: str,
        *,
        lease_seconds: float | None = None,
        progress: float | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Extend a lease; raises LeaseLost or TaskCancelled when the worker must stop."""
        body = {"worker_id": worker_id, "lease_token": lease_token}
        extra = {"lease_seconds": lease_seconds, "progress": progress, "message": message}
        return await self.send(calls.heartbeat(task_id, {**body, **extra}))

    async def complete(
        self,
        task_id: str,
        result: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        """Report a task done with its result, fenced by the lease token."""
        body = {"result": result, "worker_id": worker_id, "lease_token": lease_token}
        return await self.send(calls.complete(task_id, body))

    async def complete_batch(
        self, worker_id: str, items: Iterable[Mapping[str, Any]], *, include_tasks: bool = True
    ) -> list[dict[str, Any]]:
        """Complete several tasks: items are `{id, lease_token, result}`; one outcome each,
        `{id, outcome, task, error}`, whose `task` is null without `include_tasks`."""
        return await self.send(calls.complete_batch(worker_id, items, include_tasks))

    async def fail(
        self,
        task_id: str,
        error: str,
        *,
        retry: bool = True,
        retry_delay_seconds: float | None = None,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        """Report a failed attempt; `retry=False` makes it final."""
        body = {"error": error, "retry": retry, "retry_delay_seconds": retry_delay_seconds}
        fence = {"worker_id": worker_id, "lease_token": lease_token}
        return await self.send(calls.fail(task_id, {**body, **fence}))

    async def list_workers(self) -> list[dict[str, Any]]:
        return await self.send(calls.list_workers())

    async def worker_stats(self, worker_id: str) -> dict[str, Any]:
        return await self.send(calls.worker_stats(worker_id))

    async def stats(self) -> dict[str, Any]:
        return await self.send(calls.stats())

    async def put_task_type(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create or replace a task type: params_schema, max_attempts, lease_seconds, ..."""
        return await self.send(calls.put_task_type(name, settings))

    async def get_task_type(self, name: str) -> dict[str, Any]:
        return await self.send(calls.get_task_type(name))

    async def list_task_types(self) -> list[dict[str, Any]]:
        return await self.send(calls.list_task_types())
