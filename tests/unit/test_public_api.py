"""The SDK's public names import from `taskmanager` itself, without loading the server."""

from __future__ import annotations

import subprocess
import sys

import pytest

import taskmanager
from taskmanager import client, errors, worker

PUBLIC = {
    "Client": client.Client,
    "AsyncClient": client.AsyncClient,
    "Worker": worker.Worker,
    "TaskContext": worker.TaskContext,
    "Retry": worker.Retry,
    "PermanentError": worker.PermanentError,
    "TaskManagerError": errors.TaskManagerError,
    "LeaseLost": errors.LeaseLost,
    "TaskCancelled": errors.TaskCancelled,
    "TaskNotFound": errors.TaskNotFound,
    "NotFound": errors.NotFound,
    "ValidationFailed": errors.ValidationFailed,
    "Conflict": errors.Conflict,
    "InvalidState": errors.InvalidState,
    "Unauthorized": errors.Unauthorized,
    "Forbidden": errors.Forbidden,
    "PayloadTooLarge": errors.PayloadTooLarge,
    "RateLimited": errors.RateLimited,
    "Unavailable": errors.Unavailable,
}


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_is_the_class_it_names(name: str) -> None:
    assert getattr(taskmanager, name) is PUBLIC[name]
    assert name in taskmanager.__all__


def test_star_import_gives_the_sdk() -> None:
    namespace: dict[str, object] = {}
    exec("from taskmanager import *", namespace)
    assert set(PUBLIC) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = taskmanager.Nope  # type: ignore[attr-defined]


def test_importing_the_package_loads_neither_httpx_nor_the_server() -> None:
    code = (
        "import sys, taskmanager; "
        "print(sorted(m for m in sys.modules if m in ('httpx', 'fastapi', 'sqlalchemy')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
