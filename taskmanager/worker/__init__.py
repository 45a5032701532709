"""The Python worker: register handlers by task type, then run them against the API."""

from __future__ import annotations

from taskmanager.worker.config import ConfigError, WorkerConfig, load_config
from taskmanager.worker.handlers import PermanentError, Retry, TaskContext
from taskmanager.worker.worker import Worker

__all__ = [
    "ConfigError",
    "PermanentError",
    "Retry",
    "TaskContext",
    "Worker",
    "WorkerConfig",
    "load_config",
]
