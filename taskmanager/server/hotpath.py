"""The busiest endpoints, dispatched without FastAPI's routing and dependency solving.

A create, a claim or a completion spends as much of the server's time in the framework around
the route (the router's walk over every route, the dependency solver, the body read into Python
objects and then validated, the exception and exit-stack middleware) as in the route itself.
`HotPaths` answers the endpoints a busy queue calls most by calling the same endpoint functions
directly: the path is looked up in a dict, the body is validated by pydantic-core straight from
its bytes, and the endpoint's dependencies (all async, all reading the request) are called in
the order FastAPI would call them.

Only requests this path is sure to answer exactly as FastAPI would are taken here: a POST with
a JSON body that validates. Anything else (another method, another content type, a body that
does not validate, a task id that is not one) goes on to FastAPI with its body, so every error
answer comes from one place. The endpoints stay FastAPI routes too, which document the API.

It stands in front of the app's middleware, whose work for these requests it does itself: the
body limit, the HTTP metrics, and the 500 for an unexpected error (the app's own handler).
"""

from __future__ import annotations

import inspect
import time
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.params import Depends
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskmanager.errors import PayloadTooLarge, TaskManagerError
from taskmanager.server.answers import render
from taskmanager.server.instruments import observe_request
from taskmanager.server.limits import declared_too_large, too_large

# One argument of an endpoint (or of one of its dependencies), from what the request brings.
Resolve = Callable[["_Call"], Awaitable[Any]]


@dataclass
class _Call:
    """One request on its way to an endpoint."""

    request: Request
    body: BaseModel | None
    path_params: dict[str, Any]


@dataclass(frozen=True)
class _Endpoint:
    route: APIRoute  # its path is the router's own, without the prefix it is served under
    body: type[BaseModel]
    path_params: dict[str, TypeAdapter[Any]]
    call: Callable[[_Call], Awaitable[Response]]


class NotHot(Exception):
    """An endpoint this path cannot call the way FastAPI would: leave it to FastAPI."""


def _json_content(scope: Scope) -> bool:
    """A body FastAPI reads as JSON: no content type, or `application/json` (any charset)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return bool(kind == b"application/json")
    return True


class _TooLarge(Exception):
    """The body went past the limit while it streamed in."""


class HotPaths:
    """In front of `app`: answers POSTs to `endpoints`' routes by calling them directly, and
    hands every other request to `plain`, the app's own middleware and routing."""

    def __init__(
        self,
        app: FastAPI,
        plain: ASGIApp,
        prefix: str,
        routers: Iterable[APIRouter],
        endpoints: Iterable[Callable[..., Any]],
        max_bytes: int,
    ) -> None:
        self.app = app
        self.plain = plain
        self.max_bytes = max_bytes
        wanted = set(endpoints)
        self._static: dict[str, _Endpoint] = {}
        self._by_action: dict[str, _Endpoint] = {}  # {prefix}/tasks/{task_id}/<action>
        self._tasks = f"{prefix}/tasks/"
        for router in routers:
            for route in router.routes:
                if isinstance(route, APIRoute) and route.endpoint in wanted:
                    self._add(prefix + route.path, route)
                    wanted.discard(route.endpoint)
        if wanted:
            names = ", ".join(sorted(fn.__name__ for fn in wanted))
            raise NotHot(f"no route for {names}")

    def _add(self, path: str, route: APIRoute) -> None:
        if route.methods != {"POST"}:
            raise NotHot(f"{path}: only POST routes take the hot path")
        endpoint = _compile(route)
        if not endpoint.path_params:
            self._static[path] = endpoint
            return
        prefix, _, action = path.rpartition("/")
        if prefix != self._tasks + "{task_id}":
            raise NotHot(f"{path}: of paths with parameters, only .../tasks/{{task_id}}/<action>")
        self._by_action[action] = endpoint

    def _match(self, path: str) -> tuple[_Endpoint, dict[str, str]] | None:
        endpoint = self._static.get(path)
        if endpoint is not None:
            return endpoint, {}
        if not path.startswith(self._tasks):
            return None
        task_id, _, action = path[len(self._tasks) :].partition("/")
        endpoint = self._by_action.get(action)
        if endpoint is None or not task_id:
            return None
        return endpoint, {"task_id": task_id}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            found = self._match(scope["path"])
        if found is None or not _json_content(scope) or declared_too_large(scope, self.max_bytes):
            await self.plain(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint, raw_params = found
        scope["app"] = self.app
        try:
            messages, body = await _read_body(receive, self.max_bytes)
        except _TooLarge:
            await render(PayloadTooLarge(too_large(self.max_bytes)))(scope, receive, send)
            observe_request(scope, 413, started)
            return
        call = _validated(endpoint, body, raw_params, Request(scope, receive))
        if call is None:
            await self.plain(scope, _replay(messages, receive), send)
            return
        scope["route"] = endpoint.route
        scope["endpoint"] = endpoint.route.endpoint
        scope["path_params"] = call.path_params
        status = 500
        try:
            status = await self._answer(endpoint, call, scope, receive, send)
        finally:
            observe_request(scope, status, started)

    async def _answer(
        self, endpoint: _Endpoint, call: _Call, scope: Scope, receive: Receive, send: Send
    ) -> int:
        """Call the endpoint and send its answer; the answer's status."""
        status = 500
        started = False

        async def noting(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = int(message["status"]), True
            await send(message)

        try:
            try:
                response = await endpoint.call(call)
            except TaskManagerError as exc:
                response = render(exc)
            await response(scope, receive, noting)
        except Exception as exc:
            # As Starlette's outermost middleware does: the app's handler answers, if the answer
            # has not begun, and the error goes on up to the server, which logs it.
            handler = self.app.exception_handlers.get(Exception)
            if not started and handler is not None:
                answer = handler(call.request, exc)
                if inspect.isawaitable(answer):
                    answer = await answer
                await answer(scope, receive, noting)
            raise
        return status


async def _read_body(receive: Receive, max_bytes: int) -> tuple[list[Message], bytes]:
    """Every message up to the end of the body (or a disconnect), and the body they carry;
    `_TooLarge` once it passes `max_bytes`."""
    messages = []
    chunks = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out these messages again, then the real ones."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _validated(
    endpoint: _Endpoint, body: bytes, raw_params: dict[str, str], request: Request
) -> _Call | None:
    """The request's body and path parameters validated, or None when either is invalid."""
    try:
        model = endpoint.body.model_validate_json(body)
        params = {
            name: endpoint.path_params[name].validate_python(value)
            for name, value in raw_params.items()
        }
    except ValidationError:
        return None
    return _Call(request, model, params)


# -- compiling an endpoint: its arguments from the request, as FastAPI resolves them ----------


def _compile(route: APIRoute) -> _Endpoint:
    bodies: list[type[BaseModel]] = []
    path_params: dict[str, TypeAdapter[Any]] = {}
    call = _compile_call(route.endpoint, route.path, bodies, path_params)
    if typing.get_type_hints(route.endpoint).get("return") is not Response:
        raise NotHot(f"{route.path}: a hot endpoint answers with a Response of its own")
    if len(bodies) != 1:
        raise NotHot(f"{route.path}: a hot endpoint takes exactly one body model")
    return _Endpoint(route, bodies[0], path_params, call)


def _compile_call(
    function: Callable[..., Any],
    path: str,
    bodies: list[type[BaseModel]],
    path_params: dict[str, TypeAdapter[Any]],
) -> Callable[[_Call], Awaitable[Any]]:
    """`function` called with each of its arguments resolved from a `_Call`."""
    if not inspect.iscoroutinefunction(function):
        raise NotHot(f"{function.__qualname__}: FastAPI would run it in a thread; make it async")
    hints = typing.get_type_hints(function, include_extras=True)
    arguments: list[tuple[str, Resolve]] = []
    for name in inspect.signature(function).parameters:
        arguments.append((name, _resolver(name, hints[name], path, bodies, path_params)))

    async def call(request: _Call) -> Any:
        values = {name: await resolve(request) for name, resolve in arguments}
        return await function(**values)

    return call


def _resolver(
    name: str,
    hint: Any,
    path: str,
    bodies: list[type[BaseModel]],
    path_params: dict[str, TypeAdapter[Any]],
) -> Resolve:
    depends = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Depends)]
    if depends:
        dependency = depends[0].dependency
        if dependency is None:
            raise NotHot(f"{name}: a dependency without a callable")
        return _compile_call(dependency, path, bodies, path_params)
    if hint is Request:
        return _the_request
    if f"{{{name}}}" in path:
        path_params[name] = TypeAdapter(hint)
        return _path_param(name)
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        bodies.append(hint)
        return _the_body
    raise NotHot(f"{name}: {hint!r} is not a request, a body, a path parameter or a dependency")


async def _the_request(call: _Call) -> Request:
    return call.request


async def _the_body(call: _Call) -> BaseModel | None:
    return call.body


def _path_param(name: str) -> Resolve:
    async def resolve(call: _Call) -> Any:
        return call.path_params[name]

    return resolve
