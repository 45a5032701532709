"""Decisions about retries, leases and next states, made once, as pure functions.

The storage layer only persists what these functions decide.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from taskmanager.status import TaskStatus


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `base * 2^(attempt-1)`, ± `jitter`, capped at `cap_seconds`."""

    base_seconds: float = 2.0
    cap_seconds: float = 3600.0
    jitter: float = 0.2


def backoff_seconds(attempt: int, policy: RetryPolicy, rng: random.Random | None = None) -> float:
    """Delay before the next attempt after attempt number `attempt` (1-based) failed."""
    exponent = max(attempt, 1) - 1
    # Cap the exponent first so that huge attempt counts cannot overflow a float.
    raw = policy.base_seconds * (2.0 ** min(exponent, 64))
    delay = min(raw, policy.cap_seconds)
    spread = (rng or random).uniform(-policy.jitter, policy.jitter)
    return max(0.0, min(delay * (1.0 + spread), policy.cap_seconds))


def lease_expires_at(now: datetime, lease_seconds: float) -> datetime:
    """When a lease taken or extended at `now` ends."""
    return now + timedelta(seconds=lease_seconds)


def status_after_failure(attempts: int, max_attempts: int, retry: bool) -> TaskStatus:
    """Where a task goes when an attempt fails: back to pending while attempts remain."""
    if retry and attempts < max_attempts:
        return TaskStatus.PENDING
    return TaskStatus.FAILED


def resolve_lease_seconds(
    requested: float | None, task_default: float | None, server_default: float
) -> float:
    """The lease to grant: the request's, else the task type's, else the server's default."""
    if requested is not None:
        return requested
    if task_default is not None:
        return task_default
    return server_default
