"""Calls sent straight through the clients' own transport, compared with the same calls via httpx.

The baselines: a client given our transport (httpx's client layer in front of it, as before
calls went straight), and one given httpx's own transport. Each scenario runs with `Client` and
with `AsyncClient` on uvloop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvloop

from taskmanager import calls
from taskmanager.client import AsyncClient, Client
from taskmanager.errors import TaskManagerError
from taskmanager.transport import AsyncHttp11Transport, Http11Transport
from taskmanager.transport.direct import Direct
from taskmanager.transport.wire import request_bytes
from tests.client.conftest import Api
from tests.client.servers import HEALTH, Compressed, Gateway, Silent, serving
from tests.conftest import LiveServer, free_port, start_server

UNKNOWN = "00000000-0000-4000-8000-000000000000"
SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
KEY = "k" * 40
KEPT = ("status", "type", "params", "error", "message", "outcome")
"""Answer fields compared by value; the others (ids, instants, tokens) by type."""

Outcomes = Callable[[Api], Any]
Runner = Callable[[str, Outcomes], list[Any]]


def _shape(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {k: v if k in KEPT else _shape(v) for k, v in sorted(answer.items())}
    if isinstance(answer, list):
        return [_shape(item) for item in answer]
    return type(answer).__name__


async def outcome(api: Api, name: str, *args: Any, **kwargs: Any) -> Any:
    """A call's answer in a comparable shape, or its exception's class, message and details."""
    try:
        return _shape(await api(name, *args, **kwargs))
    except TaskManagerError as exc:
        return type(exc).__name__, str(exc), _shape(exc.details)


def sync_run(transport: str, **options: Any) -> Runner:
    def run(url: str, scenario: Outcomes) -> list[Any]:
        given = {"ours": Http11Transport(), "httpx": httpx.HTTPTransport(), "direct": None}
        with Client(url, transport=given[transport], **options) as client:

            async def api(name: str, *args: Any, **kwargs: Any) -> Any:
                return getattr(client, name)(*args, **kwargs)

            answers: list[Any] = uvloop.run(scenario(api))
            return answers

    return run


def async_run(transport: str, **options: Any) -> Runner:
    def run(url: str, scenario: Outcomes) -> list[Any]:
        async def main() -> list[Any]:
            given = {
                "ours": AsyncHttp11Transport(),
                "httpx": httpx.AsyncHTTPTransport(),
                "direct": None,
            }
            async with AsyncClient(url, transport=given[transport], **options) as client:

                async def api(name: str, *args: Any, **kwargs: Any) -> Any:
                    return await getattr(client, name)(*args, **kwargs)

                answers: list[Any] = await scenario(api)
                return answers

        return uvloop.run(main())

    return run


@pytest.fixture(params=["Client", "AsyncClient"])
def runners(request: pytest.FixtureRequest) -> Callable[..., Runner]:
    """`runners(transport, **options)`: runs scenarios with one kind of client."""
    return sync_run if request.param == "Client" else async_run


@pytest.fixture(params=["ours", "httpx"])
def baseline(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def api_scenario(api: Api) -> list[Any]:
    """The calls of a producer and a worker, with the error answers each can meet."""
    kind = "d.job"
    found = [await outcome(api, "health"), await outcome(api, "put_task_type", kind)]
    found.append(await outcome(api, "put_task_type", kind, params_schema=SCHEMA))
    found.append(await outcome(api, "create_task", kind, {"n": 1}, priority=3))
    found.append(await outcome(api, "create_task", kind, {"n": "one"}))
    found.append(await outcome(api, "create_task", kind, {"n": 2}, max_attempts=0))
    found.append(await outcome(api, "get_task", UNKNOWN))
    found.append(await outcome(api, "list_tasks", type=kind, status="pending", limit=5))
    task = await api("claim", "w-d", task_types=[kind], lease_seconds=30)
    found.append(_shape(task))
    found.append(await outcome(api, "heartbeat", task["id"], "w-d", "not-the-token"))
    found.append(await outcome(api, "complete", task["id"], {}, lease_token="not-the-token"))
    found.append(await outcome(api, "complete", task["id"], {"ok": 1}, **_fence(task)))
    found.append(await outcome(api, "cancel_task", task["id"]))
    found.append(await outcome(api, "claim", "w-d", task_types=[kind], wait_seconds=0.2))
    found.append(await outcome(api, "claim_batch", "w-d", 3, task_types=[kind]))
    return found


def _fence(task: dict[str, Any]) -> dict[str, Any]:
    return {"worker_id": "w-d", "lease_token": task["lease_token"]}


def test_answers_and_errors_are_those_httpx_reads(
    live_server: LiveServer, runners: Callable[..., Runner], baseline: str
) -> None:
    url = live_server.api_url
    direct = runners("direct", timeout=10)(url, api_scenario)
    assert direct == runners(baseline, timeout=10)(url, api_scenario)
    kinds = [found[0] for found in direct[4:7]]
    assert kinds == ["ValidationFailed", "ValidationFailed", "TaskNotFound"]
    assert direct[4][2], "a validation error carries its details"
    assert [found[0] for found in direct[9:11]] == ["LeaseLost", "LeaseLost"]
    # A task id httpx quotes and resolves: that call goes through httpx, with the same answer.
    odd = runners("direct")(url, odd_path_scenario)
    assert odd == runners(baseline)(url, odd_path_scenario) == [ODD_404]


ODD_404 = ("TaskNotFound", "no task with id a b", {"id": "str"})
"""`tasks/tasks/../x/../a b` resolved and quoted by httpx: `tasks/a%20b`."""


async def odd_path_scenario(api: Api) -> list[Any]:
    return [await outcome(api, "get_task", "tasks/../x/../a b")]


def test_calls_go_straight_through_the_transport(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither client asks httpx to build a request or read an answer."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("the call went through httpx's client")

    for client in (httpx.Client, httpx.AsyncClient):
        monkeypatch.setattr(client, "send", refuse)
        monkeypatch.setattr(client, "build_request", refuse)
    for run in (sync_run, async_run):
        found = run("direct", timeout=10)(live_server.api_url, api_scenario)
        assert found[3]["status"] == "pending" and found[6][0] == "TaskNotFound"


@pytest.fixture
def keyed_server(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    server = start_server(tmp_path, db_url, TASKMANAGER_BOOTSTRAP_ADMIN_KEY=KEY)
    yield server
    server.stop()


async def keyed_scenario(api: Api) -> list[Any]:
    return [await outcome(api, "get_task", UNKNOWN), await outcome(api, "create_task", "d.keyed")]


def test_a_key_travels_and_a_wrong_one_is_unauthorized(
    keyed_server: LiveServer, runners: Callable[..., Runner], baseline: str
) -> None:
    url = keyed_server.api_url
    for key in (KEY, "wrong-" + KEY):
        direct = runners("direct", api_key=key)(url, keyed_scenario)
        assert direct == runners(baseline, api_key=key)(url, keyed_scenario)
    assert runners("direct", api_key=KEY)(url, keyed_scenario)[1]["status"] == "pending"
    assert [found[0] for found in direct] == ["Unauthorized", "Unauthorized"]


async def health_scenario(api: Api) -> list[Any]:
    return [await outcome(api, "health"), await outcome(api, "health")]


def test_network_failures_are_the_same_unavailable(runners: Callable[..., Runner]) -> None:
    """A refused connection and a read timeout: the same class and message as before."""
    refused = f"http://127.0.0.1:{free_port()}/api"
    silent = Silent()
    try:
        for url in (refused, silent.url):
            direct = runners("direct", timeout=0.3)(url, health_scenario)
            assert direct == runners("ours", timeout=0.3)(url, health_scenario)
            assert direct[0][0] == "Unavailable" and "cannot reach" in direct[0][1]
            assert runners("httpx", timeout=0.3)(url, health_scenario)[0][0] == "Unavailable"
    finally:
        silent.close()


def test_an_error_page_that_is_not_ours_reads_the_same(
    runners: Callable[..., Runner], baseline: str
) -> None:
    with serving(Gateway) as (url, _):
        direct = runners("direct")(url, api_scenario_of_one)
        assert direct == runners(baseline)(url, api_scenario_of_one)
    assert direct[0][:2] == ("TaskManagerError", "HTTP 502: <html>Passerelle défaillante</html>")


async def api_scenario_of_one(api: Api) -> list[Any]:
    return [await outcome(api, "create_task", "d.page")]


def test_a_compressed_answer_and_its_cookie_are_read_as_httpx_reads_them(
    runners: Callable[..., Runner],
) -> None:
    """The body is decoded, and the cookie goes back with the next requests."""
    seen: dict[str, list[str | None]] = {}
    for transport in ("direct", "httpx"):
        handler = type("Seen", (Compressed,), {"cookies": []})
        with serving(handler) as (url, _):
            answers = runners(transport)(url, health_scenario)
        assert answers == [_shape(HEALTH)] * 2
        seen[transport] = handler.cookies
    assert seen["direct"] == seen["httpx"] == [None, "sticky=a1"]


def test_httpx_log_lines_are_the_same(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    lines = {}
    for transport in ("direct", "ours"):
        caplog.clear()
        sync_run(transport)(live_server.api_url, keyed_scenario)
        lines[transport] = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert lines["direct"] == lines["ours"]
    assert len(lines["direct"]) == 2 and '"HTTP/1.1 201 Created"' in lines["direct"][1]


BASES = ["http://localhost:8000/api/", "https://[::1]:8443/a/b/", "http://Example.COM/api/"]
CALLS = [
    calls.health(),
    calls.create_task("t.é", {"x": [1, 2.5, None, "ü"]}, {"priority": 2}),
    calls.create_tasks([{"type": "t"}]),
    calls.list_tasks({"status": "a b&c", "limit": 5, "cursor": "%41+/?#"}),
    calls.list_tasks({}),
    calls.get_task("0190f4c4-7a4e-7e31-9a41-3bb1c1b1d4f2"),
    calls.cancel_task("t-1"),
    calls.claim({"worker_id": "w", "wait_seconds": 5.0}),
    calls.put_task_type("a.b~c_d-e", {}),
]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("key", [None, "s3cret"])
def test_request_bytes_are_those_httpx_builds(base: str, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = httpx.Client(base_url=base, headers=headers)
    direct = Direct.of(client)
    assert direct is not None
    for call in CALLS:
        request = client.build_request(call.method, call.path, json=call.json, params=call.params)
        assert direct.request(call.method, call.path, call.params, call.json) == request_bytes(
            request, request.read()
        )


@pytest.mark.parametrize("path", ["tasks/a b", "tasks/../x", "tasks/./x", "tasks/a?b", "t/é"])
def test_paths_httpx_would_rewrite_are_left_to_it(path: str) -> None:
    direct = Direct.of(httpx.Client(base_url=BASES[0]))
    assert direct is not None and direct.request("GET", path, {}, None) is None


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "http://user:pw@localhost/api/"},
        {"base_url": "http://localhost/api/?v=1"},
        {"base_url": BASES[0], "cookies": {"a": "1"}},
        {"base_url": BASES[0], "headers": {"X": "a\r\nb"}},
    ],
)
def test_clients_httpx_would_build_differently_are_left_to_it(options: dict[str, Any]) -> None:
    assert Direct.of(httpx.Client(**options)) is None
