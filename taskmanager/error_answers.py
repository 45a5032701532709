"""How the clients read the API's error answers back into the error tree.

An error answer names its code; the client raises the class of `taskmanager.errors` that code
names, so `except LeaseLost` works the same in-process and over HTTP. An answer not in our
shape (a proxy's error page) still raises from the tree.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from taskmanager.errors import TaskManagerError, Unavailable, error_for_code

Headers = list[tuple[bytes, bytes]]


def error_from(response: httpx.Response) -> TaskManagerError:
    """The error-tree exception for an error answer read by httpx."""
    return error_of(response.status_code, response.content, lambda: response.text)


def error_in(status: int, headers: Headers, content: bytes) -> TaskManagerError:
    """The error-tree exception for an error answer read straight off the wire."""
    return error_of(status, content, lambda: _text(status, headers, content))


def error_of(status: int, content: bytes, text: Callable[[], str]) -> TaskManagerError:
    """The error-tree exception for an error answer (even one that is not our JSON shape).

    `text` gives the body as text, for the message of an answer that is not ours.
    """
    try:
        body = json.loads(content)
        code, message, details = body["error"], body["message"], body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        if status == 503:
            return Unavailable(f"the API answered 503: {text()[:200]}")
        return TaskManagerError(f"HTTP {status}: {text()[:200]}", {"status": status})
    return error_for_code(code)(message, details)


def _text(status: int, headers: Headers, content: bytes) -> str:
    # httpx's decoding: the charset the headers name, else UTF-8, undecodable bytes replaced.
    return httpx.Response(status, headers=headers, content=content).text
