"""JSON answers of the hot routes, written by pydantic-core straight to bytes.

FastAPI turns a returned model into Python dicts by validating it against the route's
`response_model`, then has the standard library encode those dicts: two passes over every task
of a batch. These answers take one, with the same JSON: the route's `response_model` still
documents it, and a model is dumped as its declared type, so a subclass's extra fields (a
claimed task's lease token in a plain `Task` answer) stay out as they did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response

from taskmanager.errors import TaskManagerError


@cache
def _adapter(kind: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def answer(
    kind: type[BaseModel],
    value: BaseModel | None,
    status_code: int = 200,
    after: Callable[[], Awaitable[None]] | None = None,
) -> Response:
    """`value` as JSON of type `kind` (`null` for None), with `status_code`; `after` runs once
    the answer is sent."""
    body = b"null" if value is None else _adapter(kind).dump_json(value)
    background = None if after is None else BackgroundTask(after)
    return Response(body, status_code, media_type="application/json", background=background)


def render(error: TaskManagerError) -> JSONResponse:
    """The answer to an error of the tree: its JSON body, status and headers."""
    return JSONResponse(error.to_dict(), status_code=error.status, headers=error.headers)
