"""What each API call sends and how its answer is read, shared by `Client` and `AsyncClient`.

Each function here describes one endpoint as a `Call`: method, path, body, query, timeout and
a reader for the JSON answer. The two clients only send calls; they never build bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# A long poll needs a client timeout longer than the wait it asks the server for.
LONG_POLL_MARGIN_SECONDS = 30.0


def as_dict(answer: Any) -> dict[str, Any]:
    """The answer's object as a dict; one the JSON decoder just made is nobody else's to copy."""
    return answer if type(answer) is dict else dict(answer)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request to the API and how to read its JSON answer."""

    method: str
    path: str
    read: Callable[[Any], T]
    json: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float | None = None


def present(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries that are not None: absent options stay out of the body."""
    return {key: value for key, value in values.items() if value is not None}


def _key(name: str) -> Callable[[Any], list[dict[str, Any]]]:
    return lambda answer: [as_dict(item) for item in answer[name]]


def _optional_task(answer: Any) -> dict[str, Any] | None:
    return None if answer is None else as_dict(answer)


def _poll_timeout(wait_seconds: float) -> float | None:
    return None if not wait_seconds else wait_seconds + LONG_POLL_MARGIN_SECONDS


# -- tasks ---------------------------------------------------------------------------------------


def health() -> Call[dict[str, Any]]:
    return Call("GET", "health", as_dict)


def create_task(
    type: str, params: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> Call[dict[str, Any]]:
    body = {"type": type, "params": dict(params or {}), **present(options)}
    return Call("POST", "tasks", as_dict, json=body)


def create_tasks(tasks: Iterable[Mapping[str, Any]]) -> Call[list[dict[str, Any]]]:
    return Call("POST", "tasks/batch", _key("tasks"), json={"tasks": list(tasks)})


def list_tasks(query: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("GET", "tasks", as_dict, params=present(query))


def get_task(task_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"tasks/{task_id}", as_dict)


def cancel_task(task_id: str) -> Call[dict[str, Any]]:
    return Call("POST", f"tasks/{task_id}/cancel", as_dict)


def retry_task(task_id: str) -> Call[dict[str, Any]]:
    return Call("POST", f"tasks/{task_id}/retry", as_dict)


# -- leases --------------------------------------------------------------------------------------


def claim(body: Mapping[str, Any]) -> Call[dict[str, Any] | None]:
    wait = float(body.get("wait_seconds") or 0.0)
    return Call(
        "POST", "tasks/claim", _optional_task, json=present(body), timeout=_poll_timeout(wait)
    )


def claim_batch(body: Mapping[str, Any]) -> Call[list[dict[str, Any]]]:
    wait = float(body.get("wait_seconds") or 0.0)
    return Call(
        "POST", "tasks/claim/batch", _key("tasks"), json=present(body), timeout=_poll_timeout(wait)
    )


def heartbeat(task_id: str, body: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("POST", f"tasks/{task_id}/heartbeat", as_dict, json=present(body))


def complete(task_id: str, body: Mapping[str, Any]) -> Call[dict[str, Any]]:
    result = body.get("result")
    full = {**body, "result": None if result is None else dict(result)}
    return Call("POST", f"tasks/{task_id}/complete", as_dict, json=present(full))


def complete_batch(
    worker_id: str, items: Iterable[Mapping[str, Any]], include_tasks: bool = True
) -> Call[list[dict[str, Any]]]:
    body: dict[str, Any] = {"worker_id": worker_id, "tasks": list(items)}
    if not include_tasks:
        body["include_tasks"] = False
    return Call("POST", "tasks/complete/batch", _key("tasks"), json=body)


def fail(task_id: str, body: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("POST", f"tasks/{task_id}/fail", as_dict, json=present(body))


# -- monitoring and task types -------------------------------------------------------------------


def list_workers() -> Call[list[dict[str, Any]]]:
    return Call("GET", "workers", _key("workers"))


def worker_stats(worker_id: str) -> Call[dict[str, Any]]:
    return Call("GET", f"workers/{worker_id}/stats", as_dict)


def stats() -> Call[dict[str, Any]]:
    return Call("GET", "stats", as_dict)


def put_task_type(name: str, settings: Mapping[str, Any]) -> Call[dict[str, Any]]:
    return Call("PUT", f"task-types/{name}", as_dict, json=present(settings))


def get_task_type(name: str) -> Call[dict[str, Any]]:
    return Call("GET", f"task-types/{name}", as_dict)


def list_task_types() -> Call[list[dict[str, Any]]]:
    return Call("GET", "task-types", _key("task_types"))
