"""JSON answers of the hot routes, written by pydantic-core straight to bytes.

FastAPI turns a returned model into Python dicts by validating it against the route's
`response_model`, then has the standard library encode those dicts: two passes over every task
of a batch. These answers take one, with the same JSON: the route's `response_model` still
documents it, and a model is dumped as its declared type, so a subclass's extra fields (a
claimed task's lease token in a plain `Task` answer) stay out as they did.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from starlette.responses import Response


@cache
def _adapter(kind: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def answer(kind: type[BaseModel], value: BaseModel | None, status_code: int = 200) -> Response:
    """`value` as JSON of type `kind` (`null` for None), with `status_code`."""
    body = b"null" if value is None else _adapter(kind).dump_json(value)
    return Response(body, status_code=status_code, media_type="application/json")
