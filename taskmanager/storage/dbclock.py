"""The database's clock, read cheaply: the offset from the host's clock is measured now and then."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger("taskmanager.storage")

_NOW_SQL = {
    "postgresql": "SELECT clock_timestamp() AT TIME ZONE 'UTC'",
    "mysql": "SELECT UTC_TIMESTAMP(6)",
    "mariadb": "SELECT UTC_TIMESTAMP(6)",
}
SAMPLES = 3


class DatabaseClock:
    """Now, by the database server's clock, so that API hosts with skewed clocks agree.

    Each measurement takes a few round trips and keeps the quickest, whose midpoint is the
    closest to the moment the server read its clock (as NTP does); a measurement slowed down
    by load is not allowed to replace a much better one until that one is old.
    """

    def __init__(self, engine: Engine, refresh_seconds: float = 30.0) -> None:
        self._engine = engine
        self._sql = text(_NOW_SQL[engine.dialect.name])
        self._refresh = refresh_seconds
        self._offset = timedelta(0)
        self._round_trip = float("inf")
        self._measured_at = -float("inf")
        self._accepted_at = -float("inf")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        if time.monotonic() - self._measured_at > self._refresh:
            self._measure()
        return datetime.now(UTC) + self._offset

    def _measure(self) -> None:
        with self._lock:
            if time.monotonic() - self._measured_at <= self._refresh:
                return
            # Even a failed measurement waits for the next period: a database that is down
            # must not make every request pay a connection attempt here too.
            self._measured_at = time.monotonic()
            try:
                offset, round_trip = self._sample()
            except SQLAlchemyError as exc:
                log.warning("cannot read the database clock (%s); keeping the last offset", exc)
                return
            stale = time.monotonic() - self._accepted_at > 20 * self._refresh
            if round_trip <= 2 * self._round_trip or stale:
                self._offset, self._round_trip = offset, round_trip
                self._accepted_at = time.monotonic()

    def _sample(self) -> tuple[timedelta, float]:
        best: tuple[timedelta, float] | None = None
        with self._engine.connect() as conn:
            for _ in range(SAMPLES):
                before = datetime.now(UTC)
                remote = conn.execute(self._sql).scalar_one()
                after = datetime.now(UTC)
                round_trip = (after - before).total_seconds()
                offset = remote.replace(tzinfo=UTC) - (before + (after - before) / 2)
                if best is None or round_trip < best[1]:
                    best = (offset, round_trip)
        assert best is not None
        return best
