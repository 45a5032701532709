"""Backoff with jitter and a circuit breaker: how the worker treats a failing API."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 30.0
BREAKER_THRESHOLD = 3


def backoff_delay(
    attempt: int,
    *,
    base: float | None = None,
    cap: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (0-based): doubling, capped, ±50 % jitter."""
    base = BACKOFF_BASE_SECONDS if base is None else base
    cap = BACKOFF_CAP_SECONDS if cap is None else cap
    nominal: float = min(cap, base * 2.0 ** min(attempt, 30))
    jitter: float = (rng or random).random()
    return nominal * (0.5 + jitter)


class TooManyErrors(Exception):
    """The API failed too many times in a row: the worker gives up."""


class CircuitBreaker:
    """Counts consecutive API failures; past a threshold, callers wait before trying again.

    One breaker serves every caller of a worker (claims, reports, heartbeats), so that when the
    API fails they back off together instead of each hammering it on its own schedule.
    """

    def __init__(
        self,
        max_consecutive_errors: int,
        *,
        threshold: int = BREAKER_THRESHOLD,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`clock` answers seconds on a steady scale (tests pass one they move by hand)."""
        self.max_consecutive_errors = max_consecutive_errors
        self.threshold = threshold
        self.failures = 0
        self.last_error: str | None = None
        self._open_until = 0.0
        self._rng = rng or random.Random()
        self._clock = clock

    @property
    def is_open(self) -> bool:
        return self._clock() < self._open_until

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.max_consecutive_errors

    def open_seconds(self) -> float:
        return max(0.0, self._open_until - self._clock())

    async def wait(self) -> None:
        """Wait while the breaker is open."""
        while self.is_open:
            await asyncio.sleep(self.open_seconds())

    def success(self) -> None:
        """The API answered: close the breaker."""
        self.failures = 0
        self.last_error = None
        self._open_until = 0.0

    def failure(self, error: str) -> None:
        """The API did not answer; raises TooManyErrors once past the limit."""
        self.failures += 1
        self.last_error = error
        if self.failures >= self.threshold:
            pause = backoff_delay(self.failures - self.threshold, rng=self._rng)
            self._open_until = max(self._open_until, self._clock() + pause)
        if self.exhausted:
            raise TooManyErrors(
                f"giving up after {self.failures} consecutive API errors; last: {error}"
            )

    def retry_delay(self, attempt: int) -> float:
        return backoff_delay(attempt, rng=self._rng)
