"""TaskManager: a central task queue with an HTTP API.

The SDK is importable from here: `from taskmanager import Client, Worker, Retry, LeaseLost`.
The names, and `__version__`, load on first use, so that `import taskmanager` (the server, the
CLI, a worker) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    __version__: str
    from taskmanager.client import AsyncClient, Client
    from taskmanager.errors import (
        Conflict,
        Forbidden,
        InvalidState,
        LeaseLost,
        NotFound,
        PayloadTooLarge,
        RateLimited,
        TaskCancelled,
        TaskManagerError,
        TaskNotFound,
        Unauthorized,
        Unavailable,
        ValidationFailed,
    )
    from taskmanager.worker import PermanentError, Retry, TaskContext, Worker

__all__ = [
    "AsyncClient",
    "Client",
    "Conflict",
    "Forbidden",
    "InvalidState",
    "LeaseLost",
    "NotFound",
    "PayloadTooLarge",
    "PermanentError",
    "RateLimited",
    "Retry",
    "TaskCancelled",
    "TaskContext",
    "TaskManagerError",
    "TaskNotFound",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "Worker",
    "__version__",
]
_CLIENT = {"Client", "AsyncClient"}
_WORKER = {"Worker", "TaskContext", "Retry", "PermanentError"}


def _home(name: str) -> str:
    if name in _CLIENT:
        return "taskmanager.client"
    return "taskmanager.worker" if name in _WORKER else "taskmanager.errors"


def _version() -> str:
    # Read on first use: importing importlib.metadata and finding the package took a worker's
    # start-up 30-60 ms on a small machine.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("taskmanager")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'taskmanager' has no attribute {name!r}")
    value = _version() if name == "__version__" else getattr(import_module(_home(name)), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
