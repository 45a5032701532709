"""Storage: the `Store` interface and its SQL implementation, chosen by database URL."""

from __future__ import annotations

from taskmanager.clock import Clock
from taskmanager.policy import RetryPolicy
from taskmanager.storage.base import ClaimArgs, Created, Store, TaskFilter
from taskmanager.storage.engine import EngineOptions, backend_of, make_engine
from taskmanager.storage.sql import SQLStore

__all__ = [
    "ClaimArgs",
    "Created",
    "EngineOptions",
    "SQLStore",
    "Store",
    "TaskFilter",
    "backend_of",
    "open_store",
]


def open_store(
    url: str,
    *,
    clock: Clock | None = None,
    default_lease_seconds: float = 60.0,
    default_max_attempts: int = 3,
    retry: RetryPolicy | None = None,
    options: EngineOptions | None = None,
) -> Store:
    """The store for a database URL; the scheme alone picks the backend."""
    return SQLStore(
        make_engine(url, options),
        clock=clock,
        default_lease_seconds=default_lease_seconds,
        default_max_attempts=default_max_attempts,
        retry=retry,
    )
