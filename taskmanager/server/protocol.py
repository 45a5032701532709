"""uvicorn's HTTP protocol, with each answer's head and body sent in one write.

uvicorn writes an answer's status line and headers when the app starts the answer, and its body
in a second write. Over TCP that is two segments, and a client waiting for the answer (a worker
in a long poll) wakes for the head, parses it, sleeps, and wakes again for the body. Here the
head is held until the body follows, which for every answer of this API happens before the
event loop turns again; a head whose body does not follow by then is sent alone.

Each request's scope also carries, in the extension `HUNG_UP` (its "check"), a function that says
whether its client has closed the connection: a long poll asks it, without waiting, before a create
leases it a task (server/longpoll.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD = b"HTTP/1.1 "
HUNG_UP = "taskmanager.hung_up"


def hung_up(scope: Mapping[str, Any]) -> Callable[[], bool] | None:
    """The request's check that its client has hung up, where its server gives one."""
    check: Callable[[], bool] | None = scope.get("extensions", {}).get(HUNG_UP, {}).get("check")
    return check


class HeldHeads:
    """A transport that holds a written answer head until the next write, or the next turn of
    the event loop, whichever comes first. Everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif data[: len(_HEAD)] == _HEAD and data[-4:] == b"\r\n\r\n":
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a held head now."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        if not self._transport.is_closing():
            self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class Protocol(HttpToolsProtocol):
    """HttpToolsProtocol writing through `HeldHeads`, telling requests of a hang-up."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held: Any = HeldHeads(transport, self.loop)
        super().connection_made(held)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {HUNG_UP: {"check": self.transport.is_closing}}


# What `uvicorn.run(http=...)` is given: an import string, so that each process loads it.
PROTOCOL = f"{__name__}:Protocol"
