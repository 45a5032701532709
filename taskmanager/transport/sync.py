"""`Http11Transport`: a blocking HTTP/1.1 transport for httpx on the standard library's sockets."""

from __future__ import annotations

import select
import socket
import ssl
import threading

import httpx

from taskmanager.transport.wire import (
    CONNECTING,
    MAX_CONNECTIONS,
    READING,
    RECEIVE_BYTES,
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


class _Connection:
    """One socket carrying one request at a time."""

    __slots__ = ("poll", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.poll = _readable_poll(sock)

    def is_open(self) -> bool:
        """Nothing waits to be read on the idle socket: not closed by the server, no stray byte."""
        # The raw socket's readiness: on a TLS socket it sees the records, not through them.
        # A poll, not a peek: no switch to non-blocking and back, no BlockingIOError to raise.
        try:
            if self.poll is not None:
                return not self.poll.poll(0)
            return not select.select([self.sock], [], [], 0)[0]
        except (OSError, ValueError):
            return False  # closed under us: ValueError for a socket whose descriptor is gone

    def exchange(
        self, data: bytes, reader: ResponseReader, limits: dict[str, float | None]
    ) -> None:
        """Send a request and read its whole answer into `reader`."""
        sock = self.sock
        with WRITING:
            _set_timeout(sock, limits.get("write"))
            sock.sendall(data)
        with READING:
            _set_timeout(sock, limits.get("read"))
            while not reader.done:
                chunk = sock.recv(RECEIVE_BYTES)
                if not chunk:
                    reader.at_eof()
                    return
                reader.feed(chunk)

    def close(self) -> None:
        self.sock.close()


def _readable_poll(sock: socket.socket) -> select.poll | None:
    """A poll object that reports `sock` readable (a byte, the end, an error); None on Windows."""
    if not hasattr(select, "poll"):
        return None
    poll = select.poll()
    poll.register(sock, select.POLLIN)
    return poll


def _set_timeout(sock: socket.socket, timeout: float | None) -> None:
    # Each settimeout is a system call, even to the timeout the socket already has.
    if sock.gettimeout() != timeout:
        sock.settimeout(timeout)


class Http11Transport(httpx.BaseTransport):
    """HTTP/1.1 with kept-alive connections per origin, for `httpx.Client`.

    Requests travel whole (bodies with a Content-Length) and answers are read whole, which fits
    an API of small JSON documents. No proxies and no HTTP/2: use httpx's own transport for those.
    """

    def __init__(self, verify: ssl.SSLContext | str | bool = True) -> None:
        """`verify` as httpx takes it; the TLS context is built on the first https request."""
        self._verify = verify
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        self._idle: IdlePool[_Connection] = IdlePool(_Connection.close)
        self._free = MAX_CONNECTIONS
        """Requests that may start now; past MAX_CONNECTIONS at once, the next wait for one."""
        self._freed = threading.Condition(self._lock)
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        data = request_bytes(request, request.read())
        reader = self.exchange(origin_of(request), data, request.method, timeouts(request))
        return reader.response()

    def exchange(
        self, origin: Origin, data: bytes, method: str, limits: dict[str, float | None]
    ) -> ResponseReader:
        """Send a request's bytes to `origin` and read its whole answer.

        `limits` holds httpx's connect, read, write and pool timeouts (None: wait forever).
        Failures raise httpx's `TransportError`s, as from `handle_request`.
        """
        self._acquire(limits.get("pool"))
        try:
            while True:
                connection, reused = self._connection(origin, limits.get("connect"))
                reader = ResponseReader(method)
                try:
                    connection.exchange(data, reader, limits)
                except BaseException as exc:
                    connection.close()
                    if may_resend(reused, reader, exc):
                        continue
                    raise
                self._release(origin, connection, reader.keep_alive())
                return reader
        finally:
            with self._lock:
                self._free += 1
                self._freed.notify()

    def _acquire(self, timeout: float | None) -> None:
        """A place among the requests in flight; PoolTimeout when none frees up in time."""
        # A lock and a counter: threading's semaphores cost a condition round trip each way.
        with self._lock:
            if not self._free and not self._freed.wait_for(lambda: self._free > 0, timeout):
                raise httpx.PoolTimeout("no connection became free in time")
            self._free -= 1

    def close(self) -> None:
        """Close the idle connections; those in use close when their request ends."""
        with self._lock:
            self._closed = True
            self._idle.close()

    def _connection(self, origin: Origin, timeout: float | None) -> tuple[_Connection, bool]:
        """An idle connection that is still open, else a new one; and whether it was idle."""
        while True:
            with self._lock:
                connection = self._idle.take(origin)
            if connection is None:
                return self._connect(origin, timeout), False
            if connection.is_open():
                return connection, True
            connection.close()

    def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        with CONNECTING:
            sock = socket.create_connection((host, port), timeout)
        try:
            with CONNECTING:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if scheme == "https":
                    if self._tls is None:
                        self._tls = ssl_context(self._verify)
                    sock = self._tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _release(self, origin: Origin, connection: _Connection, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed:
                self._idle.put(origin, connection)
                return
        connection.close()
