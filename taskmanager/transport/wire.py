"""HTTP/1.1 on the wire: a request's bytes, a response parsed with httptools, the idle pool.

What the blocking and the asyncio transports share; neither the parsing nor the pooling knows
how bytes travel.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Generic, TypeVar

import httptools
import httpx

Origin = tuple[str, str, int]
"""(scheme, host, port): requests to one origin share its kept-alive connections."""

C = TypeVar("C")

MAX_CONNECTIONS = 100
"""Connections open at once per transport, as httpx's default `Limits`."""
MAX_IDLE_PER_ORIGIN = 20
"""Kept-alive connections per origin, as httpx's default `max_keepalive_connections`."""
RECEIVE_BYTES = 65536
NO_BODY_METHODS = ("HEAD",)
"""Answers to these carry no body whatever their headers say (204 and 304 llhttp knows)."""


def origin_of(request: httpx.Request) -> Origin:
    """The origin a request goes to; a missing port is the scheme's default."""
    url = request.url
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
    return scheme, url.host, url.port or (443 if scheme == "https" else 80)


def request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request line, headers and body, ready to send in one write."""
    headers = request.headers.raw
    values = b"".join(value for _, value in headers)
    if b"\r" in values or b"\n" in values:
        raise httpx.LocalProtocolError("a header value holds a line break", request=request)
    names = {name.lower() for name, _ in headers}
    if b"transfer-encoding" in names:
        # A streamed body was read whole: it still has to travel as the chunks its header says.
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    elif body and b"content-length" not in names:
        headers = [*headers, (b"Content-Length", b"%d" % len(body))]
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(name + b": " + value for name, value in headers)
    lines.append(b"\r\n")
    return b"\r\n".join(lines) + body


def timeouts(request: httpx.Request) -> dict[str, float | None]:
    """httpx's connect, read, write and pool timeouts of this request (None: wait forever)."""
    found: dict[str, float | None] = request.extensions.get("timeout", {})
    return found


def ssl_context(verify: ssl.SSLContext | str | bool) -> ssl.SSLContext:
    """The TLS context httpx would build from the same `verify`."""
    return verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)


class ResponseReader:
    """One response, parsed by httptools from bytes fed as they arrive."""

    def __init__(self, method: str) -> None:
        self.head_only = method in NO_BODY_METHODS
        self.parser = httptools.HttpResponseParser(self)
        self.received = False
        """Any byte of the answer arrived (a request that got none may be sent again)."""
        self.done = False
        self.trailing = False
        """Bytes followed the answer: the connection cannot carry another request."""
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.reusable = False

    def feed(self, data: bytes) -> None:
        """Parse more of the answer; RemoteProtocolError when it is not HTTP/1.1."""
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if not self.done:
                raise httpx.RemoteProtocolError(f"malformed HTTP response: {exc}") from exc
            self.trailing = True

    def at_eof(self) -> None:
        """The server closed the connection: the end of a close-delimited body, or an error."""
        if self.done:
            return
        if not self.received:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        if self.headers_done and not self._framed():
            self.done = True
            return
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )

    def keep_alive(self) -> bool:
        """The connection may carry another request once this answer is read."""
        return self.done and self.reusable and not self.trailing

    def response(self) -> httpx.Response:
        return httpx.Response(
            self.status,
            headers=self.headers,
            stream=httpx.ByteStream(b"".join(self.body)),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": self.reason},
        )

    def _framed(self) -> bool:
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    # The parser's callbacks. Once the answer is done they keep it as it is: the parser goes on
    # through whatever else the same read brought.

    def on_message_begin(self) -> None:
        if self.done:
            self.trailing = True
            return
        # An interim answer (100 Continue) came first: the final one starts over.
        self.reason, self.headers, self.body, self.headers_done = b"", [], [], False

    def on_status(self, reason: bytes) -> None:
        if not self.done:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.done:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.done:
            return
        self.status = self.parser.get_status_code()
        self.headers_done = True
        # Asked now: once the answer is complete the parser has forgotten its headers.
        self.reusable = self.parser.should_keep_alive()
        if self.head_only and self.status >= 200:
            self.done = True

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.status >= 200:
            self.done = True


def may_resend(reused: bool, reader: ResponseReader, exc: BaseException) -> bool:
    """A request that failed on a kept-alive connection before any byte of its answer.

    The server most likely closed the idle connection as the request left, so it is sent again
    on another connection; a timeout, or a failure on a new connection, is the caller's to see.
    """
    transient = isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError)
    return reused and not reader.received and transient


class IdlePool(Generic[C]):
    """Kept-alive connections by origin, the most recently used first out."""

    def __init__(self, close: Callable[[C], None]) -> None:
        self._idle: dict[Origin, list[C]] = {}
        self._close = close

    def take(self, origin: Origin) -> C | None:
        found = self._idle.get(origin)
        return found.pop() if found else None

    def put(self, origin: Origin, connection: C) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            self._close(connection)

    def close(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for connection in idle:
                self._close(connection)
        self._idle.clear()


class Failures:
    """Turns the socket errors of one phase of a request into httpx's exceptions for it."""

    __slots__ = ("error", "timeout")

    def __init__(
        self, timeout: type[httpx.TimeoutException], error: type[httpx.NetworkError]
    ) -> None:
        self.timeout = timeout
        self.error = error

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: object, exc: BaseException | None, _trace: object) -> None:
        # TimeoutError is an OSError: it has to be told apart first.
        if isinstance(exc, TimeoutError):
            raise self.timeout(str(exc) or "timed out") from exc
        if isinstance(exc, OSError):
            raise self.error(str(exc) or type(exc).__name__) from exc


CONNECTING = Failures(httpx.ConnectTimeout, httpx.ConnectError)
WRITING = Failures(httpx.WriteTimeout, httpx.WriteError)
READING = Failures(httpx.ReadTimeout, httpx.ReadError)
