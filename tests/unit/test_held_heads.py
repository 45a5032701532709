"""`HeldHeads`: an answer's head waits for its body, never longer than one turn of the loop."""

from __future__ import annotations

import asyncio
from typing import Any

from taskmanager.server.protocol import HeldHeads

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


class Recorded:
    """A transport that records what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


def _held(loop: asyncio.AbstractEventLoop) -> tuple[HeldHeads, Recorded]:
    transport = Recorded()
    return HeldHeads(transport, loop), transport  # type: ignore[arg-type]


def test_a_head_and_its_body_go_in_one_write() -> None:
    async def main() -> list[bytes]:
        held, transport = _held(asyncio.get_running_loop())
        held.write(HEAD)
        held.write(b"{}")
        held.write(b"more")
        await asyncio.sleep(0)
        return transport.writes

    assert asyncio.run(main()) == [HEAD + b"{}", b"more"]


def test_a_head_alone_goes_by_the_next_turn_of_the_loop() -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        held, transport = _held(asyncio.get_running_loop())
        held.write(HEAD)
        before = list(transport.writes)
        await asyncio.sleep(0)
        return before, transport.writes

    assert asyncio.run(main()) == ([], [HEAD])


def test_closing_sends_a_held_head_first_and_the_rest_is_the_transports() -> None:
    async def main() -> Recorded:
        held, transport = _held(asyncio.get_running_loop())
        held.write(HEAD)
        held.close()
        assert held.get_extra_info("peername") == "info:peername"
        return transport

    transport = asyncio.run(main())
    assert (transport.writes, transport.closed) == ([HEAD], True)
