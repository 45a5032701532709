"""The retry, lease and next-state decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from taskmanager import policy
from taskmanager.policy import RetryPolicy
from taskmanager.status import TaskStatus

DEFAULT = RetryPolicy()
NO_JITTER = RetryPolicy(jitter=0.0)


@pytest.mark.parametrize(("attempt", "expected"), [(1, 2), (2, 4), (3, 8), (6, 64), (11, 2048)])
def test_backoff_doubles_from_two_seconds(attempt: int, expected: float) -> None:
    assert policy.backoff_seconds(attempt, NO_JITTER) == expected


@pytest.mark.parametrize("attempt", [12, 13, 50, 1000, 10**6, 10**30])
def test_backoff_is_capped_even_for_huge_attempts(attempt: int) -> None:
    assert policy.backoff_seconds(attempt, NO_JITTER) == 3600
    rng = random.Random(attempt)
    for _ in range(50):
        assert 2880 <= policy.backoff_seconds(attempt, DEFAULT, rng) <= 3600


@pytest.mark.parametrize("attempt", [0, -5])
def test_backoff_treats_attempts_below_one_as_the_first(attempt: int) -> None:
    assert policy.backoff_seconds(attempt, NO_JITTER) == 2


@pytest.mark.parametrize("attempt", [1, 4, 9])
def test_backoff_jitter_stays_within_twenty_percent_and_spreads(attempt: int) -> None:
    rng = random.Random(7)
    base = 2.0 * 2 ** (attempt - 1)
    delays = [policy.backoff_seconds(attempt, DEFAULT, rng) for _ in range(500)]
    assert all(base * 0.8 <= d <= base * 1.2 for d in delays)
    # Jitter that never moves is no jitter: both halves of the window are used.
    assert min(delays) < base * 0.9 and max(delays) > base * 1.1


def test_backoff_follows_a_custom_policy() -> None:
    custom = RetryPolicy(base_seconds=10, cap_seconds=25, jitter=0)
    assert [policy.backoff_seconds(n, custom) for n in (1, 2, 3)] == [10, 20, 25]


def test_backoff_is_never_negative() -> None:
    wild = RetryPolicy(base_seconds=1, cap_seconds=10, jitter=1.0)
    rng = random.Random(1)
    assert all(policy.backoff_seconds(1, wild, rng) >= 0 for _ in range(200))


def test_lease_expires_after_the_lease() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert policy.lease_expires_at(now, 90) == now + timedelta(seconds=90)


@pytest.mark.parametrize(
    ("attempts", "max_attempts", "retry", "expected"),
    [
        (1, 3, True, TaskStatus.PENDING),
        (2, 3, True, TaskStatus.PENDING),
        (3, 3, True, TaskStatus.FAILED),
        (4, 3, True, TaskStatus.FAILED),
        (1, 3, False, TaskStatus.FAILED),
        (1, 1, True, TaskStatus.FAILED),
    ],
)
def test_status_after_failure(
    attempts: int, max_attempts: int, retry: bool, expected: TaskStatus
) -> None:
    assert policy.status_after_failure(attempts, max_attempts, retry) is expected


@pytest.mark.parametrize(
    ("requested", "task_default", "expected"),
    [(5, 300, 5), (None, 300, 300), (None, None, 60), (5, None, 5)],
)
def test_resolve_lease_seconds_prefers_request_then_type_then_server(
    requested: float | None, task_default: float | None, expected: float
) -> None:
    assert policy.resolve_lease_seconds(requested, task_default, 60) == expected
