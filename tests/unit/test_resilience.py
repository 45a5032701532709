"""The worker's backoff and circuit breaker, on a clock moved by hand."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from taskmanager.worker import resilience
from taskmanager.worker.resilience import CircuitBreaker, TooManyErrors, backoff_delay


class Fixed(random.Random):
    """A random source that always draws the same number."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


MIDDLE = Fixed(0.5)  # jitter factor 1.0: the nominal delay


@pytest.mark.parametrize(
    ("attempt", "seconds"), [(0, 1), (1, 2), (2, 4), (3, 8), (4, 16), (5, 30), (9, 30), (500, 30)]
)
def test_backoff_doubles_from_one_second_up_to_thirty(attempt: int, seconds: float) -> None:
    assert backoff_delay(attempt, rng=MIDDLE) == seconds


def test_backoff_takes_another_base_and_cap() -> None:
    assert [backoff_delay(n, base=0.5, cap=3, rng=MIDDLE) for n in range(4)] == [0.5, 1, 2, 3]


def test_jitter_spreads_each_delay_by_half_either_way() -> None:
    assert backoff_delay(3, rng=Fixed(0.0)) == 4.0
    assert backoff_delay(3, rng=Fixed(0.999999)) == pytest.approx(12.0)
    rng = random.Random(7)
    delays = [backoff_delay(3, rng=rng) for _ in range(2000)]
    assert all(4.0 <= delay < 12.0 for delay in delays)
    assert min(delays) < 4.5 and max(delays) > 11.5  # the whole range is used
    assert len(set(delays)) > 1900  # workers that fail together do not retry together


def breaker(limit: int = 10, clock: Clock | None = None) -> CircuitBreaker:
    return CircuitBreaker(limit, threshold=3, rng=MIDDLE, clock=clock or Clock())


def test_the_breaker_opens_after_the_threshold_of_failures() -> None:
    clock = Clock()
    subject = breaker(clock=clock)
    subject.failure("refused")
    subject.failure("refused")
    assert not subject.is_open and subject.open_seconds() == 0
    subject.failure("refused")
    assert subject.is_open and subject.open_seconds() == 1.0
    assert subject.last_error == "refused"


def test_half_open_one_failure_reopens_longer_one_success_closes() -> None:
    clock = Clock()
    subject = breaker(clock=clock)
    for _ in range(3):
        subject.failure("refused")
    clock.now += 1.0
    assert not subject.is_open  # half open: the next call may try
    subject.failure("still refused")
    assert subject.is_open and subject.open_seconds() == 2.0  # the pause doubles
    clock.now += 2.0
    subject.failure("still refused")
    assert subject.open_seconds() == 4.0
    clock.now += 4.0
    subject.success()
    assert (subject.is_open, subject.failures, subject.last_error) == (False, 0, None)
    subject.failure("once")
    assert not subject.is_open  # counting starts again from zero


def test_success_closes_an_open_breaker_at_once() -> None:
    subject = breaker()
    for _ in range(4):
        subject.failure("refused")
    assert subject.is_open
    subject.success()
    assert not subject.is_open and subject.open_seconds() == 0


def test_too_many_consecutive_failures_give_up() -> None:
    subject = breaker(limit=4)
    for _ in range(3):
        subject.failure("refused")
    assert not subject.exhausted
    with pytest.raises(TooManyErrors, match="giving up after 4 consecutive API errors; last: x"):
        subject.failure("x")
    assert subject.exhausted


def test_wait_returns_when_the_breaker_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resilience, "BACKOFF_BASE_SECONDS", 0.05)
    subject = CircuitBreaker(10, threshold=1, rng=MIDDLE)
    subject.failure("refused")
    started = time.monotonic()
    asyncio.run(subject.wait())
    assert 0.04 <= time.monotonic() - started < 1.0
    assert not subject.is_open
