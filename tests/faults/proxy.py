"""A TCP proxy on 127.0.0.1 between the API and its database, that injects network faults.

There is no netem or Toxiproxy on these machines, so the test tree has its own: an asyncio
proxy in a thread of its own. Faults: `latency` (each chunk delayed, each way), `blackhole`
(connections accepted, every byte dropped; when it ends the connections it broke are closed, as
TCP would after a partition), `reset` (every connection closed with a RST, and new ones too for
a while) and `close_after_commit` (a connection that forwards a COMMIT from the client is closed
at once, before the database's answer reaches the API: the commit's outcome is unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from typing import Any


class Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.dropped_bytes = False

    def reset(self) -> None:
        """Close both sides with a RST (SO_LINGER 0), not a FIN."""
        for writer in (self.client, self.server):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()


class FaultProxy:
    """Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.latency_seconds = 0.0
        self.blackhole = False
        self.refuse = False  # reset new connections at once
        self.cut_commits = False
        self.commits_cut = 0
        self.links: set[Link] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _close(self) -> None:
        self._server.close()
        for link in list(self.links):
            link.reset()

    def reset_all(self) -> int:
        """RST every open connection; how many there were."""
        count = len(self.links)
        self._call(self._reset_all())
        return count

    async def _reset_all(self) -> None:
        for link in list(self.links):
            link.reset()
        self.links.clear()

    def start_blackhole(self) -> None:
        self.blackhole = True

    def end_blackhole(self) -> None:
        """Forward again; connections that lost bytes cannot be resynchronised: close them."""
        self.blackhole = False
        self._call(self._close_broken())

    async def _close_broken(self) -> None:
        for link in [link for link in self.links if link.dropped_bytes]:
            link.reset()
            self.links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = Link(writer, up_writer)
        if self.refuse:
            link.reset()
            return
        self.links.add(link)
        await asyncio.gather(
            self._pump(reader, up_writer, link, upstream=True),
            self._pump(up_reader, writer, link, upstream=False),
            return_exceptions=True,
        )
        self.links.discard(link)
        for side in (writer, up_writer):
            side.transport.abort()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: Link, upstream: bool
    ) -> None:
        while True:
            data = await source.read(65536)
            if not data:
                sink.close()
                return
            if self.blackhole:
                link.dropped_bytes = True
                continue
            if self.latency_seconds:
                await asyncio.sleep(self.latency_seconds)
            sink.write(data)
            await sink.drain()
            if upstream and self.cut_commits and b"COMMIT" in data.upper():
                self.commits_cut += 1
                # The COMMIT went on; its answer never comes back. The database side is closed
                # a little later, so that the COMMIT is read rather than discarded by a RST.
                link.client.transport.abort()
                asyncio.get_running_loop().call_later(0.5, link.server.close)
                return


def wait_for(condition: Any, seconds: float) -> bool:
    """Poll `condition()` until true or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
