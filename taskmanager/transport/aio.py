"""`AsyncHttp11Transport`: HTTP/1.1 for `httpx.AsyncClient` on an asyncio protocol.

Bytes arrive through `data_received` straight into the httptools parser, and the awaiting
request wakes once, when its answer is complete: no stream objects, no task per read.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import cast

import httpx

from taskmanager.transport.wire import (
    CONNECTING,
    MAX_CONNECTIONS,
    WRITING,
    IdlePool,
    Origin,
    ResponseReader,
    may_resend,
    origin_of,
    request_bytes,
    ssl_context,
    timeouts,
)


class _Connection(asyncio.Protocol):
    """One connection carrying one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._reader: ResponseReader | None = None
        self._answered: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_read = 0.0

    def is_open(self) -> bool:
        """Still usable: open, on the running loop, and no byte arrived while it was idle."""
        transport = self.transport
        return (
            not self.closed
            and transport is not None
            and not transport.is_closing()
            and self.loop is asyncio.get_running_loop()
        )

    async def exchange(
        self, data: bytes, reader: ResponseReader, limits: dict[str, float | None]
    ) -> None:
        """Send a request and wait until `reader` holds its whole answer."""
        assert self.transport is not None
        self._reader = reader
        self._answered = answered = self.loop.create_future()
        self._last_read = self.loop.time()
        self.transport.write(data)
        if self._drained is not None:
            await self._drain(limits.get("write"))
        if self.closed:
            self._end(None)
        timeout = limits.get("read")
        if timeout is not None:
            self._timer = self.loop.call_later(timeout, self._expire, timeout)
        try:
            await answered
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._reader = self._answered = None

    def abort(self) -> None:
        """Drop the connection at once (a request on it failed or was cancelled)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    async def _drain(self, timeout: float | None) -> None:
        assert self._drained is not None
        with WRITING:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._drained)

    def _expire(self, timeout: float) -> None:
        """The read timeout counts from the last byte received, as httpx's does per read."""
        idle = self.loop.time() - self._last_read
        if idle < timeout:
            self._timer = self.loop.call_later(timeout - idle, self._expire, timeout)
        elif self._answered is not None and not self._answered.done():
            self._answered.set_exception(httpx.ReadTimeout("timed out"))

    def _wake(self, exc: Exception | None) -> None:
        answered = self._answered
        if answered is None or answered.done():
            return
        if exc is None:
            answered.set_result(None)
        else:
            answered.set_exception(exc)

    def _end(self, exc: Exception | None) -> None:
        """The connection ended: the end of the answer, or the reason it is cut short."""
        self.closed = True
        reader = self._reader
        if reader is None or reader.done:
            return
        if exc is not None:
            self._wake(httpx.ReadError(str(exc) or type(exc).__name__))
            return
        try:
            reader.at_eof()
        except httpx.RemoteProtocolError as error:
            self._wake(error)
            return
        self._wake(None)

    # The protocol's callbacks, from the event loop.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without deriving from it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if reader is None or reader.done:
            # Bytes nobody asked for: this connection cannot carry another request.
            self.closed = True
            return
        self._last_read = self.loop.time()
        try:
            reader.feed(data)
        except httpx.RemoteProtocolError as exc:
            self.closed = True
            self._wake(exc)
            return
        if reader.done:
            self._wake(None)

    def eof_received(self) -> None:
        self._end(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(exc)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None:
            self._drained.set_result(None)
            self._drained = None


class AsyncHttp11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with kept-alive connections per origin, for `httpx.AsyncClient`.

    Works on any asyncio event loop, uvloop's included. Requests travel whole (bodies with a
    Content-Length) and answers are read whole, which fits an API of small JSON documents. No
    proxies and no HTTP/2: use httpx's own transport for those.
    """

    def __init__(self, verify: ssl.SSLContext | str | bool = True) -> None:
        """`verify` as httpx takes it; the TLS context is built on the first https request."""
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._idle: IdlePool[_Connection] = IdlePool(_Connection.close)
        self._in_flight = 0
        self._queue: deque[asyncio.Future[None]] = deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        data = request_bytes(request, await request.aread())
        limits = timeouts(request)
        reader = await self.exchange(origin_of(request), data, request.method, limits)
        return reader.response()

    async def exchange(
        self, origin: Origin, data: bytes, method: str, limits: dict[str, float | None]
    ) -> ResponseReader:
        """Send a request's bytes to `origin` and read its whole answer.

        `limits` holds httpx's connect, read, write and pool timeouts (None: wait forever).
        Failures raise httpx's `TransportError`s, as from `handle_async_request`.
        """
        await self._acquire(limits.get("pool"))
        try:
            while True:
                connection, reused = await self._connection(origin, limits.get("connect"))
                reader = ResponseReader(method)
                try:
                    await connection.exchange(data, reader, limits)
                except BaseException as exc:
                    # Cancelled or failed mid-request: what the connection holds is unknown.
                    connection.abort()
                    if may_resend(reused, reader, exc):
                        continue
                    raise
                if reader.keep_alive() and not connection.closed and not self._closed:
                    self._idle.put(origin, connection)
                else:
                    connection.close()
                return reader
        finally:
            self._release()

    async def aclose(self) -> None:
        """Close the idle connections; those in use close when their request ends."""
        self._closed = True
        self._idle.close()

    async def _acquire(self, timeout: float | None) -> None:
        """A place among the requests in flight; PoolTimeout when none frees up in time."""
        if self._in_flight < MAX_CONNECTIONS and not self._queue:
            self._in_flight += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._queue.append(turn)
        try:
            async with asyncio.timeout(timeout):
                await turn
        except BaseException as exc:
            if turn.done() and not turn.cancelled():
                self._release()  # the place was handed over just as this request gave up
            elif turn in self._queue:
                self._queue.remove(turn)
            if isinstance(exc, TimeoutError):
                raise httpx.PoolTimeout("no connection became free in time") from exc
            raise

    def _release(self) -> None:
        """Hand the place on to the longest waiting request, else free it."""
        while self._queue:
            turn = self._queue.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._in_flight -= 1

    async def _connection(self, origin: Origin, timeout: float | None) -> tuple[_Connection, bool]:
        """An idle connection that is still open, else a new one; and whether it was idle."""
        while (connection := self._idle.take(origin)) is not None:
            if connection.is_open():
                return connection, True
            connection.close()
        return await self._connect(origin, timeout), False

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        tls = None
        if scheme == "https":
            if self._tls is None:
                self._tls = ssl_context(self._verify)
            tls = self._tls
        with CONNECTING:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                )
        return connection
