"""`Client`: the HTTP API, one method per endpoint, errors mapped back to the error tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from taskmanager.errors import TaskManagerError, Unavailable, error_for_code

DEFAULT_API_URL = "http://localhost:8000/api"


class Client:
    """A synchronous client for the TaskManager API; reuses one connection pool."""

    def __init__(
        self,
        api_url: str = DEFAULT_API_URL,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.api_url = api_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.api_url + "/", headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._http.request(method, path, json=json, params=query, **extra)
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.api_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json()

    # -- tasks ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`GET /health`."""
        try:
            response = self._http.get("health")
        except httpx.TransportError as exc:
            raise Unavailable(f"cannot reach {self.api_url}: {exc}") from exc
        body: dict[str, Any] = response.json()
        if response.status_code != 200:
            raise Unavailable("the API reports its database unavailable", body)
        return body

    def create_task(
        self, type: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """Create a task; options are the other fields of `POST /tasks`."""
        body = {"type": type, "params": dict(params or {}), **_present(options)}
        return dict(self._call("POST", "tasks", json=body))

    def create_tasks(self, tasks: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Create many tasks in one all-or-nothing request."""
        return list(self._call("POST", "tasks/batch", json={"tasks": list(tasks)})["tasks"])

    def list_tasks(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        worker_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """One page of tasks, newest first: `{"tasks": [...], "next_cursor": ...}`."""
        params = {
            "status": status,
            "type": type,
            "worker_id": worker_id,
            "limit": limit,
            "cursor": cursor,
        }
        return dict(self._call("GET", "tasks", params=params))

    def get_task(self, task_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"tasks/{task_id}"))

    def cancel_task(self, task_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"tasks/{task_id}/cancel"))

    def retry_task(self, task_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"tasks/{task_id}/retry"))

    # -- leases --------------------------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> dict[str, Any] | None:
        """Lease one task, waiting up to `wait_seconds` for one; None when there is none."""
        body = _present(
            {
                "worker_id": worker_id,
                "task_types": task_types,
                "lease_seconds": lease_seconds,
                "wait_seconds": wait_seconds,
            }
        )
        task = self._call("POST", "tasks/claim", json=body, timeout=_poll_timeout(wait_seconds))
        return None if task is None else dict(task)

    def claim_batch(
        self,
        worker_id: str,
        limit: int,
        *,
        task_types: list[str] | None = None,
        lease_seconds: float | None = None,
        wait_seconds: float = 0.0,
    ) -> list[dict[str, Any]]:
        """Lease up to `limit` tasks at once."""
        body = _present(
            {
                "worker_id": worker_id,
                "limit": limit,
                "task_types": task_types,
                "lease_seconds": lease_seconds,
                "wait_seconds": wait_seconds,
            }
        )
        answer = self._call(
            "POST", "tasks/claim/batch", json=body, timeout=_poll_timeout(wait_seconds)
        )
        return list(answer["tasks"])

    def heartbeat(
        self,
        task_id: str,
        worker_id: str,
        lease_token: str,
        *,
        lease_seconds: float | None = None,
        progress: float | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """Extend a lease; raises LeaseLost or TaskCancelled when the worker must stop."""
        body = _present(
            {
                "worker_id": worker_id,
                "lease_token": lease_token,
                "lease_seconds": lease_seconds,
                "progress": progress,
                "message": message,
            }
        )
        return dict(self._call("POST", f"tasks/{task_id}/heartbeat", json=body))

    def complete(
        self,
        task_id: str,
        result: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        body = _present(
            {
                "result": None if result is None else dict(result),
                "worker_id": worker_id,
                "lease_token": lease_token,
            }
        )
        return dict(self._call("POST", f"tasks/{task_id}/complete", json=body))

    def complete_batch(
        self, worker_id: str, items: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Complete several tasks: items are `{id, lease_token, result}`; one outcome each."""
        body = {"worker_id": worker_id, "tasks": list(items)}
        return list(self._call("POST", "tasks/complete/batch", json=body)["tasks"])

    def fail(
        self,
        task_id: str,
        error: str,
        *,
        retry: bool = True,
        retry_delay_seconds: float | None = None,
        worker_id: str | None = None,
        lease_token: str | None = None,
    ) -> dict[str, Any]:
        body = _present(
            {
                "error": error,
                "retry": retry,
                "retry_delay_seconds": retry_delay_seconds,
                "worker_id": worker_id,
                "lease_token": lease_token,
            }
        )
        return dict(self._call("POST", f"tasks/{task_id}/fail", json=body))

    # -- monitoring and task types -------------------------------------------------------------

    def list_workers(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "workers")["workers"])

    def worker_stats(self, worker_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"workers/{worker_id}/stats"))

    def stats(self) -> dict[str, Any]:
        return dict(self._call("GET", "stats"))

    def put_task_type(self, name: str, **settings: Any) -> dict[str, Any]:
        """Create or replace a task type: params_schema, max_attempts, lease_seconds, ..."""
        return dict(self._call("PUT", f"task-types/{name}", json=_present(settings)))

    def get_task_type(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"task-types/{name}"))

    def list_task_types(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "task-types")["task_types"])


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _poll_timeout(wait_seconds: float) -> float | None:
    return None if not wait_seconds else wait_seconds + 30.0


def _error_from(response: httpx.Response) -> TaskManagerError:
    try:
        body = response.json()
        code, message, details = body["error"], body["message"], body.get("details") or {}
    except (ValueError, KeyError, TypeError):
        return TaskManagerError(f"HTTP {response.status_code}: {response.text[:200]}")
    return error_for_code(code)(message, details)
