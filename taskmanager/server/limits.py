"""Request bodies are capped while they stream in, whether or not they declare their length."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.errors import PayloadTooLarge


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, before it is read into memory whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_too_large(scope, self.max_bytes):
            await refuse(send, self.max_bytes)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Starlette's HTTPException passes through body parsing to the error handler.
                    raise HTTPException(413, too_large(self.max_bytes))
            return message

        await self.app(scope, limited, send)


def too_large(max_bytes: int) -> str:
    """What a 413 says."""
    return f"the request body is larger than {max_bytes} bytes"


def declared_too_large(scope: Scope, max_bytes: int) -> bool:
    """The request says its body is longer than `max_bytes`."""
    declared = _content_length(scope)
    return declared is not None and declared > max_bytes


async def refuse(send: Send, max_bytes: int) -> None:
    """The 413 for a declared length, before any of the body is read; the connection closes."""
    error = PayloadTooLarge(too_large(max_bytes), {"max_bytes": max_bytes})
    body = json.dumps(error.to_dict()).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
