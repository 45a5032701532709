"""Who may do what: the roles an API key can have."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PRODUCER = "producer"  # create and read tasks
    WORKER = "worker"  # claim, heartbeat, complete, fail; read
    ADMIN = "admin"  # everything: task types, cancel, retry, keys
